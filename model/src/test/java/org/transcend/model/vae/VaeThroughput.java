package org.transcend.model.vae;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Benchmark, not a test: encode and decode throughput (images/s) of the Fashion-MNIST VAE on batches of 64.
 * Run with the model module's test classpath: {@code java ... org.transcend.model.vae.VaeThroughput [repeats]}.
 */
public final class VaeThroughput {

    private static final int BATCH = 64;

    public static void main(String[] args) {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        VaeConfig config = VaeConfig.fashionMnist();
        AutoencoderKL vae = AutoencoderKL.initialized(config, 1);
        Nd4j.getRandom().setSeed(1);
        INDArray images = Nd4j.rand(DataType.FLOAT, BATCH, config.inChannels(), config.resolution(), config.resolution()).muli(2).subi(1);
        INDArray latents = vae.encode(images).mean();
        vae.decode(latents);

        System.out.printf("%s, batch %d, %d repeats, %d processors, load average %.1f%n", config, BATCH, repeats,
                Runtime.getRuntime().availableProcessors(), OS.getSystemLoadAverage());
        report("encode", repeats, () -> vae.encode(images));
        report("decode", repeats, () -> vae.decode(latents));
    }

    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    /** Wall-clock throughput, and throughput per CPU-second of this process (steadier on a shared machine). */
    private static void report(String what, int repeats, Runnable batch) {
        long wall = System.nanoTime(), cpu = OS.getProcessCpuTime();
        for (int i = 0; i < repeats; i++) batch.run();
        double wallSeconds = (System.nanoTime() - wall) / 1e9, cpuSeconds = (OS.getProcessCpuTime() - cpu) / 1e9;
        System.out.printf("%s: %.1f images/s wall, %.1f images per CPU-second%n", what, repeats * BATCH / wallSeconds,
                repeats * BATCH / cpuSeconds);
    }
}
