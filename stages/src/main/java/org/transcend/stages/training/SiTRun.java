package org.transcend.stages.training;

import org.nd4j.linalg.api.buffer.DataType;
import org.transcend.model.flow.Prediction;
import org.transcend.model.flow.TimeDistribution;
import org.transcend.model.flow.TimeShift;
import org.transcend.model.flow.TimeWindow;
import org.transcend.model.plan.TrainingPlan;
import org.transcend.model.sit.AlignHead;
import org.transcend.model.sit.ProjectorHead;
import org.transcend.model.sit.SiT;
import org.transcend.model.sit.SiTConfig;
import org.transcend.model.sit.SraHead;
import org.transcend.model.train.AdamW;
import org.transcend.model.train.Objective;
import org.transcend.model.train.TrainerSettings;

import java.io.Serializable;
import java.util.List;
import java.util.Optional;

/**
 * Everything a SiT training stage needs, in a form Beam can ship to a worker: the network shape, the objective
 * and its head, the optimiser, the plan and the length of the run.
 *
 * @param objective  vanilla, vae-align, guided, repa, sra or reg
 * @param auxBlock   k_a (vae-align), k_s (guided), REPA's projector block or SRA's student block, 1-indexed; unused by REG
 * @param auxHidden  hidden width of the align head, projector MLP or SRA head
 * @param auxDim     the projector's output width (the teacher's hidden width, or REPA's feature width), or REG's global
 *                   feature width Dg (the width of the network's global token); unused otherwise
 * @param timeShift  α of RAE's time shift applied to the plan's times (1 = none)
 * @param teacherBlock SRA: the block of the EMA teacher whose features are the target; unused otherwise
 * @param teacherGap   SRA: the teacher runs at t' = max(0, t − U[0, teacherGap)); unused otherwise
 * @param bottleneck   JiT's low-rank patch embedding width d' (0: the plain patch embedding)
 * @param headWidth    RAE's DiT-DH head: width D_h (0 with no head)
 * @param headDepth    RAE's DiT-DH head: its blocks (0: no head, the backbone's final layer makes the output)
 * @param headHeads    RAE's DiT-DH head: attention heads (0 with no head)
 */
public record SiTRun(int inputSize, int patch, int channels, int hidden, int depth, int heads, double mlpRatio,
                     int numClasses, boolean qkNorm, String prediction,
                     String objective, int auxBlock, int auxHidden, int auxDim, double auxWeight, double maskLow,
                     double maskHigh, long stopStep,
                     double lr, double beta1, double beta2, double eps, double weightDecay, double gradClip, double emaDecay,
                     long steps, int batch, long checkpointEvery, long logEvery, long seed, String timeDistribution,
                     double labelDrop, double timeShift, int teacherBlock, double teacherGap,
                     int bottleneck, int headWidth, int headDepth, int headHeads) implements Serializable {

    public SiTConfig config() {
        return new SiTConfig(inputSize, patch, channels, hidden, depth, heads, mlpRatio, numClasses, qkNorm, labelDrop, bottleneck,
                objective.equals("reg") ? auxDim : 0, headWidth, headDepth, headHeads).validate();
    }

    public Objective objectiveRecord() {
        TimeWindow window = new TimeWindow(maskLow, maskHigh);
        return switch (objective) {
            case "vanilla" -> new Objective.Vanilla();
            case "vae-align" -> new Objective.VaeAlign(auxBlock, window, auxWeight);
            case "guided" -> new Objective.GuidedFeatures(auxBlock, window, auxWeight, stopStep);
            case "repa" -> new Objective.RepresentationAlignment(auxBlock, auxWeight);
            case "sra" -> new Objective.SelfRepresentation(auxBlock, teacherBlock, auxWeight, teacherGap);
            case "reg" -> new Objective.RepresentationEntanglement(auxWeight);
            default -> throw new IllegalArgumentException("objective is '" + objective + "'; accepted: vanilla, vae-align, guided, repa, sra, reg");
        };
    }

    /** A freshly initialised network with the objective's head (REG: the global token instead), seeded by the run seed. */
    public SiT initialise() {
        boolean projector = objective.equals("guided") || objective.equals("repa");
        List<ProjectorHead> projectors = projector ? List.of(new ProjectorHead(auxBlock, auxHidden, auxDim)) : List.of();
        Optional<AlignHead> align = objective.equals("vae-align") ? Optional.of(new AlignHead(auxBlock, auxHidden)) : Optional.empty();
        Optional<SraHead> sra = objective.equals("sra") ? Optional.of(new SraHead(auxBlock, auxHidden)) : Optional.empty();
        return SiT.initialise(config(), projectors, align, sra, DataType.FLOAT, seed);
    }

    public TrainerSettings trainerSettings() {
        return new TrainerSettings(new AdamW.Hyper(lr, beta1, beta2, eps, weightDecay), gradClip, emaDecay,
                Prediction.valueOf(prediction.toUpperCase().replace('-', '_')), steps, checkpointEvery);
    }

    public TrainingPlan plan(long datasetSize) {
        TimeDistribution times = TimeDistribution.shifted(TimeDistribution.parse(timeDistribution), new TimeShift(timeShift));
        return new TrainingPlan(seed, datasetSize, batch, times, labelDrop, numClasses);
    }
}
