package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW exactly as PyTorch's {@code torch.optim.AdamW} (decoupled weight decay, bias-corrected moments,
 * eps added to the corrected square root). Its moments are part of every checkpoint, so resuming is exact.
 */
public final class AdamW {

    /** lr, betas, eps and decoupled weight decay. */
    public record Hyper(double lr, double beta1, double beta2, double eps, double weightDecay) {
        public static Hyper paper() {
            return new Hyper(1e-4, 0.9, 0.999, 1e-8, 0.0);
        }
    }

    private final Hyper hyper;
    private final Map<String, INDArray> m = new LinkedHashMap<>();
    private final Map<String, INDArray> v = new LinkedHashMap<>();
    /** Per-tensor work arrays, so a step allocates nothing; the arithmetic is the same as with fresh arrays. */
    private final Map<String, INDArray> scratch = new LinkedHashMap<>();
    private final Map<String, INDArray> denominators = new LinkedHashMap<>();

    public AdamW(Hyper hyper) {
        this.hyper = hyper;
    }

    public Hyper hyper() {
        return hyper;
    }

    /**
     * Applies one update in place. {@code step} counts from 1 (the number of updates so far, this one included),
     * as PyTorch's bias correction does.
     */
    public void update(Map<String, INDArray> params, Map<String, INDArray> grads, long step) {
        double bc1 = 1 - Math.pow(hyper.beta1, step);
        double bc2 = 1 - Math.pow(hyper.beta2, step);
        double stepSize = hyper.lr / bc1;
        double sqrtBc2 = Math.sqrt(bc2);
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = grads.get(e.getKey());
            if (g == null) continue;
            INDArray p = e.getValue();
            INDArray mi = m.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            INDArray vi = v.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            INDArray work = scratch.computeIfAbsent(e.getKey(), k -> Nd4j.create(p.dataType(), p.shape()));
            INDArray denom = denominators.computeIfAbsent(e.getKey(), k -> Nd4j.create(p.dataType(), p.shape()));
            if (hyper.weightDecay != 0) p.muli(1 - hyper.lr * hyper.weightDecay);
            mi.muli(hyper.beta1).addi(work.assign(g).muli(1 - hyper.beta1));
            vi.muli(hyper.beta2).addi(work.assign(g).muli(g).muli(1 - hyper.beta2));
            Transforms.sqrt(denom.assign(vi), false).divi(sqrtBc2).addi(hyper.eps);
            p.subi(work.assign(mi).divi(denom).muli(stepSize));
        }
    }

    /** The moments under checkpoint names {@code adam.m.<param>} and {@code adam.v.<param>}. */
    public Map<String, INDArray> state() {
        Map<String, INDArray> s = new LinkedHashMap<>();
        m.forEach((k, a) -> s.put("adam.m." + k, a));
        v.forEach((k, a) -> s.put("adam.v." + k, a));
        return s;
    }

    public void loadState(Map<String, INDArray> tensors) {
        m.clear();
        v.clear();
        tensors.forEach((k, a) -> {
            if (k.startsWith("adam.m.")) m.put(k.substring(7), a.dup());
            else if (k.startsWith("adam.v.")) v.put(k.substring(7), a.dup());
        });
    }
}
