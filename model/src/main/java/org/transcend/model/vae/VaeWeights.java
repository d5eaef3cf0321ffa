package org.transcend.model.vae;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.transcend.model.io.Safetensors;
import org.transcend.model.io.WeightsFileException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads AutoencoderKL weights from a safetensors file in latent diffusion's naming (SD checkpoints) or in
 * diffusers' naming, whichever the file uses, and checks every tensor before a graph is built.
 */
public final class VaeWeights {

    /** The two state_dict namings of the same autoencoder. */
    public enum Naming { LDM, DIFFUSERS }

    /**
     * The metadata key of the GroupNorm group count, which no tensor shape tells; written by VAEs trained here,
     * absent from SD-VAE files (latent diffusion's {@link VaeConfig#GROUPS}).
     */
    public static final String NORM_GROUPS = "norm_groups";

    /** Full SD checkpoints hold the autoencoder under this prefix. */
    private static final String CHECKPOINT_PREFIX = "first_stage_model.";
    private static final List<String> VAE_ROOTS = List.of("encoder.", "decoder.", "quant_conv.", "post_quant_conv.");

    private static final Pattern LDM_BLOCKS = Pattern.compile("^(encoder|decoder)\\.(down|mid|up)\\.");
    private static final Pattern DIFFUSERS_BLOCKS = Pattern.compile("^(encoder|decoder)\\.(down_blocks|mid_block|up_blocks)\\.");
    private static final Pattern UP_BLOCK = Pattern.compile("^decoder\\.up_blocks\\.(\\d+)\\.(.*)$");
    private static final Pattern LEVEL = Pattern.compile("^encoder\\.down\\.(\\d+)\\.(block|attn)\\.(\\d+)\\.");

    private VaeWeights() {}

    /** Loads a file whose configuration must be exactly {@code config}. */
    public static AutoencoderKL load(Path file, VaeConfig config) throws IOException {
        Map<String, INDArray> tensors = Safetensors.read(file).tensors();
        return build(file, config, tensors);
    }

    /**
     * Loads a file and infers the configuration from its tensor shapes; {@code resolution} (the image side the model
     * was trained for, which no shape tells) places any level attention.
     */
    public static AutoencoderKL load(Path file, int resolution) throws IOException {
        Safetensors.Contents contents = Safetensors.read(file);
        VaeConfig config;
        try {
            config = inferConfig(toLdm(contents.tensors()).tensors(), resolution, normGroups(contents.metadata()));
        } catch (IllegalArgumentException e) {
            boolean groupsAssumed = !contents.metadata().containsKey(NORM_GROUPS) && e.getMessage().contains("GroupNorm has");
            throw new WeightsFileException(file, e.getMessage() + (groupsAssumed ? "; the file's metadata has no '" + NORM_GROUPS
                    + "', so latent diffusion's " + VaeConfig.GROUPS + " groups were assumed" : ""));
        }
        return build(file, config, contents.tensors());
    }

    /** The metadata a VAE trained here is written with: its naming and the group count the shapes do not tell. */
    public static Map<String, String> metadata(VaeConfig config) {
        return Map.of("format", "ldm", NORM_GROUPS, Integer.toString(config.normGroups()));
    }

    private static int normGroups(Map<String, String> metadata) {
        String groups = metadata.get(NORM_GROUPS);
        if (groups == null) return VaeConfig.GROUPS;
        try {
            return Integer.parseInt(groups.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata " + NORM_GROUPS + " = '" + groups + "'; accepted: a positive integer");
        }
    }

    private static AutoencoderKL build(Path file, VaeConfig config, Map<String, INDArray> tensors) {
        try {
            Renamed renamed = toLdm(tensors);
            VaeGraph.requireStateDict(config, renamed.tensors(), renamed::describe);
            return new AutoencoderKL(config, renamed.tensors());
        } catch (IllegalArgumentException e) {
            throw new WeightsFileException(file, e.getMessage());
        }
    }

    /** The autoencoder's tensors under latent-diffusion names, and the file's name for each (for messages). */
    public record Renamed(Naming naming, Map<String, INDArray> tensors, Map<String, String> originalNames) {
        String describe(String ldmName) {
            String original = originalNames.get(ldmName);
            return original == null || original.equals(ldmName) ? "'" + ldmName + "'"
                    : "'" + original + "' (latent-diffusion name '" + ldmName + "')";
        }
    }

    /**
     * The autoencoder's tensors of a file under latent-diffusion names. Tensors outside the autoencoder (the
     * training loss's {@code loss.*}, a full checkpoint's diffusion model, reference outputs) are left out; a full
     * SD checkpoint's {@code first_stage_model.} prefix is removed.
     */
    public static Renamed toLdm(Map<String, INDArray> fileTensors) {
        boolean checkpoint = fileTensors.keySet().stream().anyMatch(n -> n.startsWith(CHECKPOINT_PREFIX));
        Map<String, INDArray> vae = new LinkedHashMap<>();
        Map<String, String> fileNames = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : fileTensors.entrySet()) {
            String name = e.getKey();
            if (checkpoint) {
                if (!name.startsWith(CHECKPOINT_PREFIX)) continue;
                name = name.substring(CHECKPOINT_PREFIX.length());
            }
            String n = name;
            if (VAE_ROOTS.stream().anyMatch(n::startsWith)) {
                vae.put(name, e.getValue());
                fileNames.put(name, e.getKey());
            }
        }
        Naming naming = detect(vae.keySet());
        Map<String, INDArray> ldm = new LinkedHashMap<>();
        Map<String, String> originalNames = new LinkedHashMap<>();
        int upLevels = naming == Naming.DIFFUSERS ? diffusersUpLevels(vae.keySet()) : 0;
        for (Map.Entry<String, INDArray> e : vae.entrySet()) {
            String ldmName = naming == Naming.LDM ? e.getKey() : fromDiffusers(e.getKey(), upLevels);
            INDArray value = e.getValue();
            // diffusers' attention projections are Linear [C, C]; latent diffusion's are 1×1 convolutions.
            if (value.rank() == 2 && ldmName.matches(".*\\.attn(_1|\\.\\d+)\\.(q|k|v|proj_out)\\.weight$")) {
                value = value.reshape(value.size(0), value.size(1), 1, 1);
            }
            if (ldm.put(ldmName, value) != null) {
                throw new IllegalArgumentException("tensors '" + originalNames.get(ldmName) + "' and '" + fileNames.get(e.getKey())
                        + "' both map to the latent-diffusion name '" + ldmName + "'");
            }
            originalNames.put(ldmName, fileNames.get(e.getKey()));
        }
        return new Renamed(naming, ldm, originalNames);
    }

    /** Which naming the autoencoder tensors use, judged by their block names. */
    public static Naming detect(Iterable<String> names) {
        String ldm = null, diffusers = null;
        for (String n : names) {
            if (ldm == null && LDM_BLOCKS.matcher(n).find()) ldm = n;
            if (diffusers == null && DIFFUSERS_BLOCKS.matcher(n).find()) diffusers = n;
        }
        if (ldm != null && diffusers != null) {
            throw new IllegalArgumentException("the file mixes namings: '" + ldm + "' is latent diffusion's, '" + diffusers
                    + "' is diffusers'; accepted: one naming throughout");
        }
        if (ldm == null && diffusers == null) {
            throw new IllegalArgumentException("no autoencoder blocks found; accepted: latent-diffusion names "
                    + "(encoder.down.0.block.0...) or diffusers names (encoder.down_blocks.0.resnets.0...)");
        }
        return ldm != null ? Naming.LDM : Naming.DIFFUSERS;
    }

    private static int diffusersUpLevels(Iterable<String> names) {
        int levels = 0;
        for (String n : names) {
            Matcher m = UP_BLOCK.matcher(n);
            if (m.matches()) levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
        }
        return levels;
    }

    /** One diffusers name in latent diffusion's naming; diffusers numbers the decoder's levels from the bottom. */
    static String fromDiffusers(String name, int upLevels) {
        String n = name;
        Matcher up = UP_BLOCK.matcher(n);
        if (up.matches()) n = "decoder.up." + (upLevels - 1 - Integer.parseInt(up.group(1))) + "." + up.group(2);
        n = n.replaceFirst("^encoder\\.down_blocks\\.", "encoder.down.")
                .replaceFirst("^(encoder\\.down|decoder\\.up)\\.(\\d+)\\.resnets\\.", "$1.$2.block.")
                .replaceFirst("^(encoder\\.down|decoder\\.up)\\.(\\d+)\\.attentions\\.", "$1.$2.attn.")
                .replaceFirst("^(encoder\\.down\\.\\d+)\\.downsamplers\\.0\\.conv\\.", "$1.downsample.conv.")
                .replaceFirst("^(decoder\\.up\\.\\d+)\\.upsamplers\\.0\\.conv\\.", "$1.upsample.conv.")
                .replaceFirst("^(encoder|decoder)\\.mid_block\\.resnets\\.0\\.", "$1.mid.block_1.")
                .replaceFirst("^(encoder|decoder)\\.mid_block\\.resnets\\.1\\.", "$1.mid.block_2.")
                .replaceFirst("^(encoder|decoder)\\.mid_block\\.attentions\\.0\\.", "$1.mid.attn_1.")
                .replaceFirst("^(encoder|decoder)\\.conv_norm_out\\.", "$1.norm_out.")
                .replaceFirst("\\.conv_shortcut\\.", ".nin_shortcut.");
        if (n.matches(".*\\.attn(_1|\\.\\d+)\\..*")) {
            n = n.replaceFirst("\\.group_norm\\.", ".norm.")
                    .replaceFirst("\\.(to_q|query)\\.", ".q.")
                    .replaceFirst("\\.(to_k|key)\\.", ".k.")
                    .replaceFirst("\\.(to_v|value)\\.", ".v.")
                    .replaceFirst("\\.(to_out\\.0|proj_attn)\\.", ".proj_out.");
        }
        return n;
    }

    /**
     * The configuration the tensor shapes tell (latent-diffusion names), for images of side {@code resolution} and
     * {@code normGroups} GroupNorm groups.
     */
    public static VaeConfig inferConfig(Map<String, INDArray> ldm, int resolution, int normGroups) {
        int channels = dim(ldm, "encoder.conv_in.weight", 0);
        int inChannels = dim(ldm, "encoder.conv_in.weight", 1);
        TreeSet<Integer> levels = new TreeSet<>();
        TreeSet<Integer> blocks = new TreeSet<>();
        TreeSet<Integer> attentionLevels = new TreeSet<>();
        for (String n : ldm.keySet()) {
            Matcher m = LEVEL.matcher(n);
            if (!m.find()) continue;
            int level = Integer.parseInt(m.group(1));
            levels.add(level);
            if (m.group(2).equals("attn")) attentionLevels.add(level);
            if (level == 0 && m.group(2).equals("block")) blocks.add(Integer.parseInt(m.group(3)));
        }
        if (levels.isEmpty() || levels.last() != levels.size() - 1 || blocks.isEmpty()) {
            throw new IllegalArgumentException("cannot infer the levels: encoder levels " + levels + " and level-0 blocks "
                    + blocks + "; expected levels 0..L-1 each with blocks 0..B-1");
        }
        List<Integer> multipliers = new ArrayList<>();
        for (int level : levels) {
            String name = "encoder.down." + level + ".block.0.conv1.weight";
            int out = dim(ldm, name, 0);
            if (out % channels != 0) {
                throw new IllegalArgumentException("tensor '" + name + "' has " + out + " output channels; expected a multiple of "
                        + "the " + channels + " channels of encoder.conv_in");
            }
            multipliers.add(out / channels);
        }
        List<Integer> attentionResolutions = attentionLevels.stream().map(l -> resolution >> l).toList();
        return new VaeConfig(inChannels, dim(ldm, "decoder.conv_out.weight", 0), resolution, channels, multipliers,
                blocks.size(), attentionResolutions, dim(ldm, "decoder.conv_in.weight", 1), true, normGroups).validate();
    }

    private static int dim(Map<String, INDArray> ldm, String name, int axis) {
        INDArray a = ldm.get(name);
        if (a == null || a.rank() <= axis) {
            throw new IllegalArgumentException("cannot infer the configuration: " + (a == null ? "missing tensor '" + name + "'"
                    : "tensor '" + name + "' has rank " + a.rank() + ", expected at least " + (axis + 1)));
        }
        return (int) a.size(axis);
    }
}
