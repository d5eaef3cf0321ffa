package org.transcend.model.nn;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Named tensors laid end to end in one flat buffer, each name a view of its stretch in its own shape (row-major).
 *
 * <p>Why: a SiT's optimiser step (clipping, AdamW, EMA) is a handful of element-wise passes over every trainable tensor.
 * Run per tensor it is some 80 small native calls per pass, most too small for ND4J to split over the cores; run on
 * the flat buffer it is one call per pass over all of them (measured on the SiT-core benchmark: about half the time).
 * Views see and make every change to the flat buffer, so the network, its gradients and the optimiser can share one
 * layout and still be addressed by their PyTorch names.
 */
public final class PackedTensors {

    private final INDArray flat;
    private final Layout layout;
    private final Map<String, INDArray> views;

    /** The names in order, each tensor's shape and where its stretch starts. */
    private record Layout(List<String> names, Map<String, long[]> shapes, Map<String, Long> offsets, long length) {
        static Layout of(Map<String, long[]> shapes) {
            Map<String, Long> offsets = new LinkedHashMap<>();
            long at = 0;
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                offsets.put(e.getKey(), at);
                at += Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact);
            }
            return new Layout(List.copyOf(shapes.keySet()), shapes, offsets, at);
        }
    }

    private PackedTensors(INDArray flat, Layout layout) {
        this.flat = flat;
        this.layout = layout;
        this.views = Collections.unmodifiableMap(viewsOf(flat, layout));
    }

    /** Zeros of the given shapes, in the map's order. */
    public static PackedTensors zeros(DataType type, Map<String, long[]> shapes) {
        Layout layout = Layout.of(new LinkedHashMap<>(shapes));
        return new PackedTensors(Nd4j.zeros(type, layout.length()), layout);
    }

    /** Copies of the given tensors (cast to {@code type}), in the map's order. */
    public static PackedTensors copyOf(Map<String, INDArray> tensors, DataType type) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        tensors.forEach((name, a) -> shapes.put(name, a.shape()));
        PackedTensors packed = zeros(type, shapes);
        tensors.forEach((name, a) -> packed.views.get(name).assign(a.castTo(type)));
        return packed;
    }

    /** The flat buffer [total values]: the tensors in order, each row-major. */
    public INDArray flat() {
        return flat;
    }

    /** Each name's view of the flat buffer, in order. */
    public Map<String, INDArray> views() {
        return views;
    }

    public List<String> names() {
        return layout.names();
    }

    /** Zeros laid out as these tensors. */
    public PackedTensors zerosLike() {
        return new PackedTensors(Nd4j.zeros(flat.dataType(), layout.length()), layout);
    }

    /** Whether {@code other} holds the same names in the same order with the same shapes, so the flat buffers align value by value. */
    public boolean sameLayout(PackedTensors other) {
        if (!layout.names().equals(other.layout.names())) return false;
        return layout.names().stream().allMatch(n -> Arrays.equals(layout.shapes().get(n), other.layout.shapes().get(n)));
    }

    /** Another flat buffer of this length seen through this layout: one view per name. */
    public Map<String, INDArray> viewsOf(INDArray otherFlat) {
        if (otherFlat.length() != layout.length() || !otherFlat.isVector() || otherFlat.isView()) {
            throw new IllegalArgumentException("a flat buffer of " + layout.length() + " values is needed; got shape "
                    + Arrays.toString(otherFlat.shape()) + (otherFlat.isView() ? " (a view)" : ""));
        }
        return viewsOf(otherFlat, layout);
    }

    /**
     * The tensors of {@code byName} laid out as these, in a new flat buffer; every name of this layout must be there with
     * its shape, and no other (an error names each one missing, misshapen or unexpected).
     */
    public INDArray pack(Map<String, INDArray> byName) {
        StringBuilder problems = new StringBuilder();
        for (String name : layout.names()) {
            INDArray a = byName.get(name);
            long[] shape = layout.shapes().get(name);
            if (a == null) problems.append("; missing '").append(name).append("' ").append(Arrays.toString(shape));
            else if (!Arrays.equals(a.shape(), shape)) {
                problems.append("; '").append(name).append("' has shape ").append(Arrays.toString(a.shape()))
                        .append(", expected ").append(Arrays.toString(shape));
            }
        }
        for (String name : byName.keySet()) {
            if (!layout.shapes().containsKey(name)) problems.append("; unexpected '").append(name).append("'");
        }
        if (problems.length() > 0) throw new IllegalArgumentException("tensors do not fit the layout" + problems);
        INDArray out = Nd4j.create(flat.dataType(), layout.length());
        Map<String, INDArray> target = viewsOf(out, layout);
        for (String name : layout.names()) target.get(name).assign(byName.get(name).castTo(flat.dataType()));
        return out;
    }

    private static Map<String, INDArray> viewsOf(INDArray flat, Layout layout) {
        Map<String, INDArray> views = new LinkedHashMap<>();
        for (String name : layout.names()) {
            long[] shape = layout.shapes().get(name);
            long offset = layout.offsets().get(name);
            // An explicit view (buffer, shape, row-major strides, offset): reshaping an interval might copy, and a copy
            // would silently stop sharing the buffer.
            views.put(name, Nd4j.create(flat.data(), shape, Nd4j.getStrides(shape, 'c'), offset, 'c'));
        }
        return views;
    }
}
