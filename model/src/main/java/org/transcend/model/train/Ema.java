package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.Axpy;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;

/** The exponential moving average of the weights, initialised as a copy and updated after every step. */
public final class Ema {
    private final double decay;
    private final Map<String, INDArray> shadow = new LinkedHashMap<>();

    public Ema(double decay, Map<String, INDArray> params) {
        if (!(decay >= 0 && decay <= 1)) throw new IllegalArgumentException("EMA decay is " + decay + "; accepted: 0 to 1");
        this.decay = decay;
        params.forEach((k, p) -> shadow.put(k, p.dup()));
    }

    /** shadow ← decay·shadow + (1 − decay)·param, as PyTorch's {@code mul_(decay).add_(p, alpha=1 − decay)}; two passes. */
    public void update(Map<String, INDArray> params) {
        params.forEach((k, p) -> {
            INDArray s = shadow.get(k).muli(decay);
            Nd4j.exec(new Axpy(p, s, s, 1 - decay));
        });
    }

    public Map<String, INDArray> weights() {
        return shadow;
    }

    /** Under checkpoint names {@code ema.<param>}. */
    public Map<String, INDArray> state() {
        Map<String, INDArray> s = new LinkedHashMap<>();
        shadow.forEach((k, a) -> s.put("ema." + k, a));
        return s;
    }

    public void loadState(Map<String, INDArray> tensors) {
        tensors.forEach((k, a) -> {
            if (k.startsWith("ema.")) {
                INDArray target = shadow.get(k.substring(4));
                if (target == null) throw new IllegalArgumentException("checkpoint has EMA weights for unknown parameter " + k.substring(4));
                target.assign(a);
            }
        });
    }
}
