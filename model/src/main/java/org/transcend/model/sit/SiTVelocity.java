package org.transcend.model.sit;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.flow.Path;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.VelocityModel;

import java.util.Map;

/** A SiT as the velocity field the samplers integrate: its output turned into v̂ by the prediction type. */
public final class SiTVelocity implements VelocityModel {
    private final SiT model;
    private final SameDiff sd = SameDiff.create();

    public SiTVelocity(SiT model, Prediction prediction) {
        this.model = model;
        var c = model.config();
        SDVariable x = sd.placeHolder("x", model.dataType(), -1, c.inChannels(), c.inputSize(), c.inputSize());
        SDVariable t = sd.placeHolder("t", model.dataType(), -1);
        SDVariable y = sd.placeHolder("y", model.dataType(), -1, c.labelRows());
        SiTOutputs out = model.build(sd, x, t, y, new SiT.Wiring("", true, c.depth(), false));
        prediction.velocity(out.out().orElseThrow(), x, Path.perSample(t, 4)).rename("v");
    }

    @Override
    public INDArray velocity(INDArray x, INDArray t, INDArray labels) {
        INDArray y = model.oneHot(labels.castTo(org.nd4j.linalg.api.buffer.DataType.LONG).toLongVector());
        return sd.output(Map.of("x", x.castTo(model.dataType()), "t", t.castTo(model.dataType()), "y", y), "v").get("v");
    }
}
