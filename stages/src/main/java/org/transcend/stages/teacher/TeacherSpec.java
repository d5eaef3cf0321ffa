package org.transcend.stages.teacher;

import org.transcend.model.sit.SiT;
import org.transcend.model.train.Checkpoint;
import org.transcend.model.train.GuidedTeacher;
import org.transcend.stages.io.LocalCopies;

import java.io.IOException;
import java.io.Serializable;
import java.util.OptionalInt;

/**
 * The frozen teacher of stage (b): its checkpoint (the raw weights of the warmup run), how to read it, and the
 * extraction settings k_t and w (REG reads the same teacher's block k, conditional features alone: w = 1). {@code headHeads}
 * are the attention heads of RAE's DH head, when the warmup had one (the teacher stops before it).
 */
public record TeacherSpec(String checkpoint, int heads, int headHeads, boolean qkNorm, int alignBlock, int block, double guidance)
        implements Serializable {

    public GuidedTeacher load() throws IOException {
        SiT teacher = network();
        if (block < 1 || block > teacher.config().depth()) {
            throw new IllegalArgumentException("teacher.block is " + block + "; accepted: 1 to the teacher's depth " + teacher.config().depth());
        }
        return new GuidedTeacher(teacher, block, guidance);
    }

    /** The frozen network: the checkpoint's raw weights, its tensors checked before any is read. */
    public SiT network() throws IOException {
        Checkpoint c = Checkpoint.load(LocalCopies.fetch(checkpoint),
                shapes -> SiT.checkStateDict(shapes, heads, headHeads, qkNorm, OptionalInt.empty(), OptionalInt.of(alignBlock)));
        return SiT.fromStateDict(c.weights(), heads, headHeads, qkNorm, OptionalInt.empty(), OptionalInt.of(alignBlock));
    }
}
