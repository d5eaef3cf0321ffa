package org.transcend.pipelines.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Every configuration key of the pipeline, in one place: default, accepted values and meaning. */
public final class Catalog {
    private Catalog() {}

    public static final List<String> PRESETS = List.of("fmnist-quick", "fmnist-repa", "fmnist-sra", "fmnist-reg", "fmnist-compare", "fmnist-jit", "fmnist-dh", "fmnist-vae", "imagenet256-sit-b2", "imagenet256-sit-xl2");

    public static final Map<String, Setting> ALL = new LinkedHashMap<>();

    private static Setting add(Setting s) {
        ALL.put(s.key(), s);
        return s;
    }

    // ---- data (ImportImages) ----
    public static final Setting DATA_SOURCE = add(Setting.choice("data.source", "fashion-mnist",
            List.of("fashion-mnist", "image-folder", "cifar10"), "Dataset format."));
    public static final Setting DATA_PATH = add(Setting.text("data.path", "/usr/share/datasets/fashion-mnist",
            "Dataset location: a directory, local or gs://."));
    public static final Setting DATA_SPLIT = add(Setting.choice("data.split", "train", List.of("train", "test"),
            "Which split to train on."));
    public static final Setting DATA_LIMIT = add(Setting.integer("data.limit", 0, 0, Long.MAX_VALUE,
            "Keep only the first N images of the split; 0 keeps all."));
    public static final Setting DATA_RESOLUTION = add(Setting.integer("data.resolution", 32, 8, 1024,
            "Image folders only: images are centre-cropped to a square and resized to this size."));
    public static final Setting DATA_CHANNELS = add(Setting.integer("data.channels", 3, 1, 3,
            "Image folders only: 1 (luminance) or 3 (RGB)."));
    public static final Setting DATA_SHARDS = add(Setting.integer("data.shards", 4, 1, 4096,
            "Parallel read shards (does not change the imported records)."));

    // ---- run ----
    public static final Setting RUN_SEED = add(Setting.integer("run.seed", 0, 0, Long.MAX_VALUE,
            "Seed of every random draw of the run (the training plan, initialisation, sampling)."));

    // ---- sit / training (the SiT, its optimiser and the Self-Transcendence stages) ----
    public static final Setting SIT_HIDDEN = add(Setting.integer("sit.hidden", 768, 8, 4096, "SiT width D (SiT-B: 768)."));
    public static final Setting SIT_DEPTH = add(Setting.integer("sit.depth", 12, 1, 64, "Number of SiT blocks (SiT-B: 12)."));
    public static final Setting SIT_HEADS = add(Setting.integer("sit.heads", 12, 1, 64, "Attention heads; must divide sit.hidden."));
    public static final Setting SIT_PATCH = add(Setting.integer("sit.patch", 2, 1, 16, "Patch size on the latent grid."));
    public static final Setting SIT_MLP_RATIO = add(Setting.real("sit.mlp-ratio", 4.0, 0.5, 16, "MLP hidden width / D."));
    public static final Setting SIT_QK_NORM = add(Setting.flag("sit.qk-norm", false, "LayerNorm on queries and keys per head."));
    public static final Setting SIT_BOTTLENECK = add(Setting.integer("sit.bottleneck", 0, 0, 65536,
            "JiT's low-rank patch embedding: patch (C*p*p) -> this width -> sit.hidden (x_embedder.proj1, proj2); 0: one linear map."));
    public static final Setting SIT_HEAD_WIDTH = add(Setting.integer("sit.head-width", 0, 0, 8192,
            "RAE's DiT-DH head: width D_h of the wide, shallow blocks after the backbone (a multiple of 4); 0 with no head."));
    public static final Setting SIT_HEAD_DEPTH = add(Setting.integer("sit.head-depth", 0, 0, 16,
            "RAE's DiT-DH head: its blocks (RAE: 2); they replace the backbone's final layer. 0: no head."));
    public static final Setting SIT_HEAD_HEADS = add(Setting.integer("sit.head-heads", 0, 0, 64,
            "RAE's DiT-DH head: attention heads, a divisor of sit.head-width; 0 with no head."));
    public static final Setting SIT_PREDICTION = add(Setting.choice("sit.prediction", "velocity", List.of("velocity", "x0"),
            "What the network predicts: the velocity, or x0 scored in v-space (JiT)."));

    public static final Setting TRAIN_BATCH = add(Setting.integer("train.batch", 256, 1, 65536, "Batch size of every SiT training stage."));
    public static final Setting TRAIN_LR = add(Setting.real("train.lr", 1e-4, 0, 1, "AdamW learning rate (constant)."));
    public static final Setting TRAIN_BETA1 = add(Setting.real("train.beta1", 0.9, 0, 1, "AdamW beta1."));
    public static final Setting TRAIN_BETA2 = add(Setting.real("train.beta2", 0.999, 0, 1, "AdamW beta2."));
    public static final Setting TRAIN_EPS = add(Setting.real("train.eps", 1e-8, 0, 1, "AdamW epsilon."));
    public static final Setting TRAIN_WEIGHT_DECAY = add(Setting.real("train.weight-decay", 0, 0, 1, "AdamW decoupled weight decay."));
    public static final Setting TRAIN_GRAD_CLIP = add(Setting.real("train.grad-clip", 1.0, 1e-9, 1e9, "Global gradient-norm clipping threshold."));
    public static final Setting TRAIN_EMA_DECAY = add(Setting.real("train.ema-decay", 0.9999, 0, 1, "EMA decay of the weights (sampling uses the EMA)."));
    public static final Setting TRAIN_TIME = add(Setting.text("train.time-distribution", "uniform",
            "How t is drawn: uniform, or logit-normal(mean,std)."));
    public static final Setting TRAIN_LABEL_DROP = add(Setting.real("train.label-drop", 0.1, 0, 0.99, "Probability of dropping a label to the null class."));
    public static final Setting TRAIN_CHECKPOINT_EVERY = add(Setting.integer("train.checkpoint-every", 5000, 1, Long.MAX_VALUE,
            "Steps between checkpoints (a rerun resumes from the newest)."));
    public static final Setting TRAIN_PREVIEW_EVERY = add(Setting.integer("train.preview-every", 1000, 0, Long.MAX_VALUE,
            "Steps between preview grids (4 samples per class from fixed seeds, EMA weights, Euler ODE 50 steps) in the "
                    + "training stage's previews/ folder; 0 turns previews off."));
    public static final Setting TRAIN_LOG_EVERY = add(Setting.integer("train.log-every", 100, 1, Long.MAX_VALUE, "Steps between progress lines."));

    public static final Setting TIME_SHIFT_ALPHA = add(Setting.real("time-shift.alpha", 1.0, 0.01, 100,
            "RAE's time shift t_m = alpha t / (1 + (alpha - 1) t) on training times and the sampler's grid; 1 = none."));
    public static final Setting TIME_SHIFT_BASE_DIM = add(Setting.integer("time-shift.base-dim", 0, 0, Long.MAX_VALUE,
            "When > 0: alpha = sqrt(m / n) with m the values per model input (C*H*W) and n this base dimension (RAE: 4096); "
                    + "0: time-shift.alpha as given."));

    public static final Setting MASK_LOW = add(Setting.real("mask.low", 0.4, 0, 1, "Low end of the t-mask of the alignment losses."));
    public static final Setting MASK_HIGH = add(Setting.real("mask.high", 0.7, 0, 1, "High end of the t-mask of the alignment losses."));

    public static final Setting WARMUP_STEPS = add(Setting.integer("warmup.steps", 200_000, 0, Long.MAX_VALUE, "Steps of stage (a), the warmup that makes the teacher."));
    public static final Setting WARMUP_BLOCK = add(Setting.integer("warmup.block", 2, 1, 64, "k_a: the block the VAE-align head reads (1-indexed)."));
    public static final Setting WARMUP_WEIGHT = add(Setting.real("warmup.weight", 0.5, 0, 1e6, "lambda_a: weight of the VAE-align loss."));
    public static final Setting WARMUP_HEAD_HIDDEN = add(Setting.integer("warmup.head-hidden", 2048, 1, 65536, "Hidden width of the VAE-align head MLP."));

    public static final Setting TEACHER_BLOCK = add(Setting.integer("teacher.block", 8, 1, 64, "k_t: the teacher block whose features are the target."));
    public static final Setting TEACHER_GUIDANCE = add(Setting.real("teacher.guidance", 30, 0, 1e6, "w: f_g = f_u + w (f_c - f_u)."));
    public static final Setting TEACHER_MODE = add(Setting.choice("teacher.mode", "cached", List.of("cached", "online"),
            "cached: targets computed ahead in parallel and reused across experiments; online: the teacher runs in the training loop."));
    public static final Setting TEACHER_SHARD_STEPS = add(Setting.integer("teacher.shard-steps", 1000, 1, Long.MAX_VALUE,
            "Plan steps per teacher-target shard (the unit of parallel extraction)."));

    public static final Setting STUDENT_STEPS = add(Setting.integer("student.steps", 400_000, 0, Long.MAX_VALUE,
            "Steps of stage (b), and of the vanilla baseline trained on the same plan."));
    public static final Setting STUDENT_BLOCK = add(Setting.integer("student.block", 6, 1, 64, "k_s: the student block the projector reads."));
    public static final Setting STUDENT_WEIGHT = add(Setting.real("student.weight", 0.5, 0, 1e6, "lambda_b: weight of the guided-feature loss."));
    public static final Setting STUDENT_PROJECTOR_HIDDEN = add(Setting.integer("student.projector-hidden", 2048, 1, 65536, "Hidden width of the projector MLP."));
    public static final Setting STUDENT_STOP_STEP = add(Setting.integer("student.stop-step", 100_000, 0, Long.MAX_VALUE,
            "The guided-feature loss is on for the first N steps only."));

    public static final Setting REPA_FEATURES = add(Setting.text("repa.features", "",
            "REPA: an .npz with 'ids' [N] (the imported images' ids) and 'features' [N, T, Dz] (per-patch features of each clean "
                    + "image, T = the SiT's tokens); read by the repa-targets stage. A changed file needs a new path or --force repa-targets."));
    public static final Setting REPA_BLOCK = add(Setting.integer("repa.block", 4, 1, 64,
            "REPA: the block the projector reads (SiT-B: 4, SiT-L/XL: 8)."));
    public static final Setting REPA_WEIGHT = add(Setting.real("repa.weight", 0.5, 0, 1e6,
            "REPA: lambda, the weight of the negative-cosine alignment loss (no t-mask)."));
    public static final Setting REPA_PROJECTOR_HIDDEN = add(Setting.integer("repa.projector-hidden", 2048, 1, 65536,
            "REPA: hidden width of the projector MLP (D -> h -> h -> Dz, SiLU)."));

    public static final Setting SRA_STUDENT_BLOCK = add(Setting.integer("sra.student-block", 3, 1, 64,
            "SRA: the student block its head reads (SiT-B: 3)."));
    public static final Setting SRA_TEACHER_BLOCK = add(Setting.integer("sra.teacher-block", 8, 1, 64,
            "SRA: the block of the EMA teacher whose features are the target (SiT-B: 8)."));
    public static final Setting SRA_WEIGHT = add(Setting.real("sra.weight", 0.5, 0, 1e6,
            "SRA: the weight of the negative-cosine alignment loss."));
    public static final Setting SRA_MAX_GAP = add(Setting.real("sra.max-gap", 0.2, 0, 1,
            "SRA: the EMA teacher sees less noise, t' = max(0, t - U[0, gap))."));
    public static final Setting SRA_HEAD_HIDDEN = add(Setting.integer("sra.head-hidden", 0, 0, 65536,
            "SRA: hidden width of the head (D -> h -> D, SiLU); 0: twice sit.hidden, as SRA."));

    public static final Setting REG_TEACHER_BLOCK = add(Setting.integer("reg.teacher-block", 8, 1, 64,
            "REG: the block of the frozen warmup teacher whose tokens, mean-pooled on each clean latent (t = 0, true label), "
                    + "are the image's global feature g (the reg-targets stage)."));
    public static final Setting REG_WEIGHT = add(Setting.real("reg.weight", 0.03, 0, 1e6,
            "REG: beta, the weight of the global token's velocity loss mean|v_g - (eps_g - g)|^2 (every t)."));

    public static final Setting LATENTS_SPACE = add(Setting.choice("latents.space", "vae", List.of("vae", "pixels"),
            "vae: the SiT works on VAE latents; pixels: JiT's pixel space, no VAE: the 'latents' are the images in [-1, 1], "
                    + "padded (black, centred) to vae.resolution, with scale 1."));
    public static final Setting VAE_WEIGHTS = add(Setting.text("vae.weights", "",
            "An SD-VAE safetensors file (LDM or diffusers naming); empty: the pipeline trains a small VAE."));

    public static final Setting VAE_STEPS = add(Setting.integer("vae.steps", 3000, 0, Long.MAX_VALUE, "Steps of the small VAE trained when vae.weights is empty."));
    public static final Setting VAE_BATCH = add(Setting.integer("vae.batch", 64, 1, 65536, "Batch size of VAE training."));
    public static final Setting VAE_LR = add(Setting.real("vae.lr", 1e-3, 0, 1, "AdamW learning rate of VAE training."));
    public static final Setting VAE_LR_SCHEDULE = add(Setting.choice("vae.lr-schedule", "constant", List.of("constant", "cosine"),
            "Learning rate over VAE training: constant, or a half cosine from vae.lr towards 0 at vae.steps."));
    public static final Setting VAE_L1 = add(Setting.real("vae.l1", 0.0, 0, 1e6, "Weight of the L1 reconstruction term."));
    public static final Setting VAE_L2 = add(Setting.real("vae.l2", 1.0, 0, 1e6, "Weight of the L2 reconstruction term."));
    public static final Setting VAE_KL = add(Setting.real("vae.kl-weight", 1e-6, 0, 1e6, "Weight of the KL term."));
    public static final Setting VAE_CHANNELS = add(Setting.integer("vae.channels", 32, 1, 1024, "Base channels of the small VAE; every level's channels must be a multiple of vae.norm-groups."));
    public static final Setting VAE_NORM_GROUPS = add(Setting.integer("vae.norm-groups", 32, 1, 1024, "GroupNorm groups of the small VAE (latent diffusion's is 32; narrower VAEs need fewer)."));
    public static final Setting VAE_MULTIPLIERS = add(Setting.text("vae.multipliers", "1,2,2", "Channel multiplier per level; every level but the last halves the resolution."));
    public static final Setting VAE_LATENT_CHANNELS = add(Setting.integer("vae.latent-channels", 4, 1, 64, "Latent channels."));
    public static final Setting VAE_RESOLUTION = add(Setting.integer("vae.resolution", 32, 8, 1024, "Images are padded with black to this square size."));
    public static final Setting VAE_HELD_OUT = add(Setting.integer("vae.held-out", 1000, 1, Long.MAX_VALUE, "Images (the last by id) held out for the reconstruction PSNR."));
    public static final Setting VAE_CHECKPOINT_EVERY = add(Setting.integer("vae.checkpoint-every", 500, 1, Long.MAX_VALUE, "Steps between VAE checkpoints."));
    public static final Setting ENCODE_GROUPS = add(Setting.integer("encode.groups", 16, 1, 100_000, "Parallel groups of images the encoder works through (does not change the latents)."));

    public static final Setting SAMPLE_METHOD = add(Setting.choice("sample.method", "sde", List.of("sde", "euler", "heun"),
            "sde: Euler-Maruyama (the paper's protocol); euler/heun: ODE."));
    public static final Setting SAMPLE_STEPS = add(Setting.integer("sample.steps", 250, 1, 100_000, "Sampler steps."));
    public static final Setting SAMPLE_COUNT = add(Setting.integer("sample.count", 50_000, 1, Long.MAX_VALUE, "Number of samples."));
    public static final Setting SAMPLE_SHARDS = add(Setting.integer("sample.shards", 8, 1, 100_000, "Seed shards sampled in parallel (does not change the samples)."));
    public static final Setting SAMPLE_CHECKPOINT_STEP = add(Setting.integer("sample.checkpoint-step", 0, 0, Long.MAX_VALUE,
            "Sample the model as it was after this many steps (a checkpoint the training stage kept, every "
                    + "train.checkpoint-every steps and at the end); 0: the final model."));
    public static final Setting SAMPLE_CFG_SCALE = add(Setting.real("sample.cfg-scale", 1.0, 0, 100, "Classifier-free guidance scale (1 = none)."));
    public static final Setting SAMPLE_CFG_LOW = add(Setting.real("sample.cfg-low", 0.0, 0, 1, "Guidance interval low end in t."));
    public static final Setting SAMPLE_CFG_HIGH = add(Setting.real("sample.cfg-high", 1.0, 0, 1, "Guidance interval high end in t."));

    // ---- compare ----
    public static final Setting COMPARE_RECIPES = add(Setting.text("compare.recipes", "vanilla,vae-align,repa,sra,reg,self-transcendence",
            "The recipes `transcend run compare` trains on one plan and budget (student.steps), comma-separated: vanilla, vae-align, "
                    + "repa, sra, reg, self-transcendence."));
    public static final Setting COMPARE_EVAL_EVERY = add(Setting.integer("compare.eval-every", 0, 0, Long.MAX_VALUE,
            "compare: evaluate each recipe after every N steps and at the end; a multiple of train.checkpoint-every; "
                    + "0: every train.checkpoint-every steps."));

    // ---- eval ----
    public static final Setting EVAL_FEATURES = add(Setting.choice("eval.features", "classifier", List.of("classifier", "inception", "pixels"),
            "The feature network of the Fréchet distance: classifier (a small CNN the pipeline trains on the dataset; reported as "
                    + "FD-<dataset>-classifier), inception (FID-Inception from eval.inception-weights; reported as FID) or pixels (FD-pixels)."));
    public static final Setting EVAL_INCEPTION_WEIGHTS = add(Setting.text("eval.inception-weights", "",
            "pytorch-fid's pt_inception-2015-12-05 weights as a safetensors file; required by eval.features=inception."));
    public static final Setting EVAL_REFERENCE_STATS = add(Setting.text("eval.reference-stats", "",
            "An ADM reference-batch .npz (mu, sigma) of the chosen feature network; empty: statistics of the imported images."));
    public static final Setting EVAL_BATCH = add(Setting.integer("eval.batch", 256, 1, 65536,
            "Images per feature-network batch (does not change the statistics)."));
    public static final Setting EVAL_CLASSIFIER_STEPS = add(Setting.integer("eval.classifier-steps", 500, 1, Long.MAX_VALUE,
            "AdamW steps of the domain classifier."));
    public static final Setting EVAL_CLASSIFIER_BATCH = add(Setting.integer("eval.classifier-batch", 64, 1, 65536,
            "Batch size of the domain classifier."));
    public static final Setting EVAL_CLASSIFIER_LR = add(Setting.real("eval.classifier-lr", 1e-3, 0, 1,
            "AdamW learning rate of the domain classifier (constant)."));
    public static final Setting EVAL_CLASSIFIER_HOLDOUT = add(Setting.real("eval.classifier-holdout", 0.1, 0.001, 0.5,
            "Fraction of the imported images held out (chosen by a hash of their ids) to measure the classifier's accuracy."));
    public static final Setting EVAL_TEST_SET_DEGRADATION = add(Setting.choice("eval.test-set-degradation", "none",
            List.of("none", "blur", "noise"), "evaluate-test-set only: the test split as it is, Gaussian-blurred (σ = 1 px) "
                    + "or with Gaussian noise (σ = 0.1 of the range) added, standing in for generated samples."));
    // ---- end eval ----

    /** Checks between keys that no single key can check alone. */
    static void checkConsistency(Settings s) {
        if (s.getInt(DATA_CHANNELS.key()) == 2) {
            throw new ConfigException("data.channels is 2; accepted: 1, 3");
        }
        int depth = s.getInt(SIT_DEPTH.key());
        for (Setting block : List.of(WARMUP_BLOCK, TEACHER_BLOCK, STUDENT_BLOCK)) {
            blockWithinDepth(s, block);
        }
        if (s.getInt(SIT_HIDDEN.key()) % s.getInt(SIT_HEADS.key()) != 0) {
            throw new ConfigException("sit.heads is " + s.getInt(SIT_HEADS.key()) + "; accepted: a divisor of sit.hidden ("
                    + s.getInt(SIT_HIDDEN.key()) + ")");
        }
        checkHead(s);
        if (s.getLong(TIME_SHIFT_BASE_DIM.key()) > 0 && s.getDouble(TIME_SHIFT_ALPHA.key()) != 1.0) {
            throw new ConfigException("time-shift.alpha is " + s.getDouble(TIME_SHIFT_ALPHA.key()) + " and time-shift.base-dim is "
                    + s.getLong(TIME_SHIFT_BASE_DIM.key()) + "; accepted: one of them (alpha given directly, or computed from the base dimension)");
        }
        if (s.get(LATENTS_SPACE.key()).equals("pixels") && !s.get(VAE_WEIGHTS.key()).isBlank()) {
            throw new ConfigException("latents.space is pixels but vae.weights is " + s.get(VAE_WEIGHTS.key())
                    + "; accepted: no VAE weights in pixel space (or latents.space=vae)");
        }
        lowNotAboveHigh(s, MASK_LOW, MASK_HIGH);
        lowNotAboveHigh(s, SAMPLE_CFG_LOW, SAMPLE_CFG_HIGH);
        try {
            org.transcend.model.flow.TimeDistribution.parse(s.get(TRAIN_TIME.key()));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(TRAIN_TIME.key() + " is '" + s.get(TRAIN_TIME.key()) + "'; accepted: uniform, logit-normal(mean,std)");
        }
    }

    /**
     * Throws unless the block setting names a block of the SiT. The blocks of the other recipes are checked by the
     * pipelines that use them, so their paper defaults do not stop a shallower model's other recipes.
     */
    public static void blockWithinDepth(Settings s, Setting block) {
        int depth = s.getInt(SIT_DEPTH.key());
        if (s.getInt(block.key()) > depth) {
            throw new ConfigException(block.key() + " is " + s.getInt(block.key()) + "; accepted: 1 to sit.depth (" + depth + ")");
        }
    }

    /** The DH head's three settings: all 0 (no head), or a depth with a width that is a multiple of 4 and heads dividing it. */
    private static void checkHead(Settings s) {
        int width = s.getInt(SIT_HEAD_WIDTH.key()), depth = s.getInt(SIT_HEAD_DEPTH.key()), heads = s.getInt(SIT_HEAD_HEADS.key());
        if (depth == 0 && (width != 0 || heads != 0)) {
            throw new ConfigException("sit.head-width is " + width + " and sit.head-heads is " + heads + " but sit.head-depth is 0; "
                    + "accepted: sit.head-depth of at least 1 for RAE's DH head, or all three 0");
        }
        if (depth > 0 && (width == 0 || width % 4 != 0)) {
            throw new ConfigException("sit.head-width is " + width + "; accepted with sit.head-depth " + depth + ": a positive multiple of 4");
        }
        if (depth > 0 && (heads == 0 || width % heads != 0)) {
            throw new ConfigException("sit.head-heads is " + heads + "; accepted: a divisor of sit.head-width (" + width + ")");
        }
    }

    private static void lowNotAboveHigh(Settings s, Setting low, Setting high) {
        if (s.getDouble(low.key()) > s.getDouble(high.key())) {
            throw new ConfigException(low.key() + " is " + s.getDouble(low.key()) + ", above " + high.key() + " ("
                    + s.getDouble(high.key()) + "); accepted: " + low.key() + " <= " + high.key());
        }
    }
}
