package org.transcend.model.train;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.ops.impl.updaters.AdamUpdater;

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
    /** Per-tensor update buffers, so a step allocates nothing. */
    private final Map<String, INDArray> updates = new LinkedHashMap<>();

    public AdamW(Hyper hyper) {
        this.hyper = hyper;
    }

    public Hyper hyper() {
        return hyper;
    }

    /**
     * Applies one update in place. {@code step} counts from 1 (the number of updates so far, this one included),
     * as PyTorch's bias correction does.
     *
     * <p>The moments and the update come from ND4J's fused Adam kernel, one pass over memory instead of a dozen
     * element-wise ops. That kernel computes {@code lr·√bc2/bc1 · m / (√v + ε')}; PyTorch's
     * {@code lr/bc1 · m / (√v/√bc2 + ε)} is the same expression with {@code ε' = ε·√bc2}, which is passed.
     */
    public void update(Map<String, INDArray> params, Map<String, INDArray> grads, long step) {
        update(params, grads, step, hyper.lr);
    }

    /** As {@link #update(Map, Map, long)} at learning rate {@code lr} instead of the base rate (a schedule's choice). */
    public void update(Map<String, INDArray> params, Map<String, INDArray> grads, long step, double lr) {
        if (step < 1) throw new IllegalArgumentException("AdamW step is " + step + "; accepted: 1 or more (it counts updates)");
        double epsilon = hyper.eps * Math.sqrt(1 - Math.pow(hyper.beta2, step));
        int iteration = Math.toIntExact(step - 1); // the kernel corrects the bias with iteration + 1
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = grads.get(e.getKey());
            if (g == null) continue;
            INDArray p = e.getValue();
            INDArray mi = m.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            INDArray vi = v.computeIfAbsent(e.getKey(), k -> Nd4j.zeros(p.dataType(), p.shape()));
            INDArray u = updates.computeIfAbsent(e.getKey(), k -> Nd4j.create(p.dataType(), p.shape()));
            if (hyper.weightDecay != 0) p.muli(1 - lr * hyper.weightDecay);
            Nd4j.exec(new AdamUpdater(g, vi, mi, u, vi, mi, lr, hyper.beta1, hyper.beta2, epsilon, iteration));
            p.subi(u);
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
