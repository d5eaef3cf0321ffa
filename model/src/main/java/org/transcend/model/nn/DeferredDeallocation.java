package org.transcend.model.nn;

import org.nd4j.linalg.api.memory.Deallocatable;
import org.nd4j.linalg.api.memory.Deallocator;
import org.nd4j.linalg.api.memory.deallocation.DeallocatorService;
import org.nd4j.linalg.factory.Nd4j;

import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * ND4J's deallocation, deferred: a native buffer is freed no sooner than {@value #DELAY_MS} ms after the collector found its
 * Java object unreachable, instead of at once.
 *
 * <p>Why: ND4J 1.0.0-M2.1 frees a buffer when its Java {@code DataBuffer} becomes unreachable (a weak reference drained by
 * its deallocator threads), but hands native ops only the buffer's opaque pointer. Objects made for a single op, such as
 * the dimension array of a broadcast op or a view passed straight into an op, are unreachable once the JIT-compiled caller
 * has taken their pointers, so a collection during the op lets the deallocator free them under it. That crashed
 * warmup-align of the main job on 2026-12-07 (SIGSEGV in {@code sd::DataBuffer::special()} inside {@code execBroadcast} of
 * a bias add, after ~150 steps); a loop of {@code addiRowVector} with a collector running every millisecond crashes within
 * a second ({@code DeferredDeallocationTest}). Every op here returns within milliseconds, so a delay of a second closes the
 * window, and memory is still returned, a second late.
 *
 * <p>{@link #install()} replaces {@code Nd4j}'s service (the engines call it; it is idempotent); buffers registered with the
 * original service before that keep its immediate deallocation.
 */
public final class DeferredDeallocation extends DeallocatorService {
    static final long DELAY_MS = 1000;
    static final String IMMEDIATE = "transcend.immediate-deallocation";

    private static volatile boolean installed;

    /**
     * Makes every buffer created from now on deallocate through this service; {@code -D}{@value #IMMEDIATE}{@code =true}
     * keeps ND4J's own (to compare memory or speed, never for real runs).
     */
    public static void install() {
        if (installed || Boolean.getBoolean(IMMEDIATE)) return;
        synchronized (DeferredDeallocation.class) {
            if (installed) return;
            try {
                Nd4j.getDeallocatorService(); // the original, created first, so that Nd4j does not create it over ours
                var field = Nd4j.class.getDeclaredField("deallocatorService");
                field.setAccessible(true);
                field.set(null, new DeferredDeallocation());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot install deferred deallocation into this ND4J version (expected the private"
                        + " static field Nd4j.deallocatorService of ND4J 1.0.0-M2.1)", e);
            }
            installed = true;
        }
    }

    private final ReferenceQueue<Deallocatable> queue = new ReferenceQueue<>();
    private final Set<Reference> live = ConcurrentHashMap.newKeySet();

    private DeferredDeallocation() {
        Thread freeing = new Thread(this::freeWhenDue, "transcend-deferred-deallocation");
        freeing.setDaemon(true);
        freeing.start();
    }

    @Override
    public void pickObject(Deallocatable deallocatable) {
        live.add(new Reference(deallocatable, queue));
    }

    private static final class Reference extends WeakReference<Deallocatable> {
        final Deallocator deallocator;
        final int device;
        long due;

        Reference(Deallocatable referent, ReferenceQueue<Deallocatable> queue) {
            super(referent, queue);
            this.deallocator = referent.deallocator();
            this.device = referent.targetDevice();
        }
    }

    /** Moves collected references into a queue ordered by when they were found, and frees each once it is due. */
    private void freeWhenDue() {
        ArrayDeque<Reference> waiting = new ArrayDeque<>();
        Integer device = null;
        while (true) {
            try {
                Reference found = (Reference) queue.remove(waiting.isEmpty() ? 0 : 50);
                long now = System.nanoTime();
                while (found != null) {
                    found.due = now + DELAY_MS * 1_000_000;
                    waiting.addLast(found);
                    found = (Reference) queue.poll();
                }
                while (!waiting.isEmpty() && waiting.peekFirst().due - now <= 0) {
                    Reference r = waiting.removeFirst();
                    live.remove(r);
                    if (device == null || device != r.device) {
                        Nd4j.getAffinityManager().unsafeSetDevice(r.device);
                        device = r.device;
                    }
                    r.deallocator.deallocate();
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
