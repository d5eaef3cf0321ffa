package org.transcend.stages.sampling;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.VelocityModel;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTEngine;
import org.transcend.model.vae.AutoencoderKL;
import org.transcend.schemas.SampleRecord;
import org.transcend.stages.io.Tensors;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Draws samples of a SiT with a spec's sampler and decodes them with the VAE: what the Sample stage does for each
 * seed shard, and what a training stage does for its preview grids. Sample i's class and noise derive from
 * (spec seed, i) alone, so the same indices give the same images wherever they are drawn.
 */
public final class Drawing {

    /** Samples integrated together: enough to keep the matrix products efficient, few enough to bound memory. */
    private static final int BATCH = 50;

    private final SampleSpec spec;
    private final SiT model;
    private final SiTEngine engine;
    private final VelocityModel velocity;
    private final AutoencoderKL vae;

    /** {@code vae} is null when the spec does not decode (pixel-space models). */
    public Drawing(SampleSpec spec, SiT model, AutoencoderKL vae) {
        this.spec = spec;
        this.model = model;
        if (spec.decodes() && vae == null) throw new IllegalArgumentException("the spec decodes with " + spec.vaeWeights() + " but no VAE was given");
        this.engine = new SiTEngine(model);
        this.velocity = engine.velocityModel(Prediction.valueOf(spec.prediction().toUpperCase().replace('-', '_')));
        this.vae = vae;
    }

    /** Samples [from, to), in index order; a model with REG's global token generates it with the image, from noise, and drops it. */
    public List<SampleRecord> draw(long from, long to) {
        long[] shape = model.config().samplerState();
        List<SampleRecord> records = new ArrayList<>();
        for (long first = from; first < to; first += BATCH) {
            int n = (int) Math.min(BATCH, to - first);
            long[] labels = new long[n];
            for (int i = 0; i < n; i++) labels[i] = spec.label(first + i);
            INDArray x0 = engine.latents(spec.sampler().sample(velocity, Nd4j.createFromArray(labels), shape, spec.seed(), first));
            INDArray latents = x0.castTo(DataType.FLOAT).divi(spec.scale()).addi(spec.shift());
            INDArray images = crop(vae == null ? latents : vae.decode(latents));
            for (int i = 0; i < n; i++) {
                byte[] pixels = toBytes(images.slice(i));
                long[] s = images.slice(i).shape();
                records.add(new SampleRecord(first + i, (int) labels[i], spec.seed(), Tensors.uint8(pixels, s),
                        ByteBuffer.wrap(Images.png(pixels, (int) s[0], (int) s[1], (int) s[2]))));
            }
        }
        return records;
    }

    private INDArray crop(INDArray images) {
        long h = images.size(2);
        if (spec.cropTo() <= 0 || spec.cropTo() >= h) return images;
        long o = (h - spec.cropTo()) / 2;
        return images.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(o, o + spec.cropTo()),
                NDArrayIndex.interval(o, o + spec.cropTo())).dup();
    }

    /** [−1, 1] → uint8 with rounding, as the reference's (x + 1)·127.5 clamp. */
    private static byte[] toBytes(INDArray chw) {
        float[] v = chw.dup('c').reshape(chw.length()).toFloatVector();
        byte[] b = new byte[v.length];
        for (int i = 0; i < v.length; i++) b[i] = (byte) Math.max(0, Math.min(255, Math.round((v[i] + 1) * 127.5f)));
        return b;
    }
}
