package org.transcend.pipelines.compare;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import org.apache.beam.sdk.options.PipelineOptions;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.transcend.pipelines.Orchestrator;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.pipelines.config.Settings;
import org.transcend.pipelines.steps.EvaluateStep;
import org.transcend.pipelines.store.ArtifactStore;
import org.transcend.schemas.RunRecord;
import org.transcend.schemas.StageRun;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import static org.transcend.pipelines.config.Catalog.*;

/**
 * The {@code compare} pipeline: each recipe trained on the same plan for the same number of steps (student.steps),
 * sampled and evaluated after every {@code compare.eval-every} steps, through the recipes' own pipelines on one store,
 * so what they share (the import, the VAE, the latents, the classifier, the warmup) is built once. It writes the distance
 * of every recipe at every step as a table ({@code table.txt}, {@code distances.csv}, {@code distances.json}) and a
 * plot of distance against steps ({@code distances.png}) into {@code <store>/_compare/<id>/}.
 */
public final class Comparison {
    private Comparison() {}

    public static final String TABLE = "table.txt";
    public static final String CSV = "distances.csv";
    public static final String JSON = "distances.json";
    public static final String PLOT = "distances.png";

    /** The distance of one recipe's model after {@code step} steps, with the evaluate artifact it comes from. */
    public record Point(String recipe, long step, String metric, double distance, String evaluateKey) {}

    /** Every point, in recipe then step order, and where the table and the plot were written. */
    public record Result(List<Point> points, String outputDir, String table) {}

    public static Result run(ArtifactStore store, Settings settings, PipelineOptions options, PrintStream log) throws Exception {
        List<Recipe> recipes = Recipe.parse(settings.get(COMPARE_RECIPES.key()));
        List<Long> steps = evaluationSteps(settings);
        List<Point> points = new ArrayList<>();
        for (Recipe recipe : recipes) {
            // every recipe gets the student's budget, the VAE-align model (the warmup stage) included
            Settings forRecipe = recipe == Recipe.VAE_ALIGN
                    ? settings.with(WARMUP_STEPS.key(), settings.get(STUDENT_STEPS.key())) : settings;
            for (long step : steps) {
                log.printf("[compare] %s after %d steps%n", recipe.id, step);
                Settings at = forRecipe.with(SAMPLE_CHECKPOINT_STEP.key(), Long.toString(step));
                RunRecord run = new Orchestrator(store, at, options, log).run(recipe.pipeline, Set.of(), Set.of());
                StageRun evaluate = run.getStages().stream().filter(s -> s.getStage().equals(EvaluateStep.NAME)).findFirst()
                        .orElseThrow(() -> new IllegalStateException("pipeline " + recipe.pipeline + " has no evaluate stage"));
                Map.Entry<String, Double> distance = evaluate.getMetrics().entrySet().iterator().next();
                points.add(new Point(recipe.id, step, distance.getKey(), distance.getValue(), evaluate.getKey()));
            }
        }
        String table = table(points);
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(TABLE, table.getBytes(StandardCharsets.UTF_8));
        files.put(CSV, csv(points).getBytes(StandardCharsets.UTF_8));
        files.put(JSON, new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsBytes(points));
        files.put(PLOT, plot(points));
        String id = String.format("%tY%<tm%<td-%<tH%<tM%<tS-%s", System.currentTimeMillis(), UUID.randomUUID().toString().substring(0, 8));
        return new Result(points, store.writeComparison(id, files), table);
    }

    /** eval-every, twice that, ... up to and including student.steps; each must be a step the training stages keep. */
    static List<Long> evaluationSteps(Settings s) {
        long budget = s.getLong(STUDENT_STEPS.key());
        long checkpoints = s.getLong(TRAIN_CHECKPOINT_EVERY.key());
        long every = s.getLong(COMPARE_EVAL_EVERY.key()) == 0 ? checkpoints : s.getLong(COMPARE_EVAL_EVERY.key());
        if (budget < 1) throw new ConfigException("student.steps is 0; compare needs at least one training step");
        if (every % checkpoints != 0) {
            throw new ConfigException("compare.eval-every is " + every + "; accepted: a multiple of train.checkpoint-every (" + checkpoints
                    + "), the steps whose models the training stages keep");
        }
        TreeSet<Long> steps = new TreeSet<>();
        for (long k = every; k < budget; k += every) steps.add(k);
        steps.add(budget);
        return new ArrayList<>(steps);
    }

    /** One row per step, one column per recipe, headed by the metric's name. */
    static String table(List<Point> points) {
        List<String> recipes = points.stream().map(Point::recipe).distinct().toList();
        TreeSet<Long> steps = new TreeSet<>();
        points.forEach(p -> steps.add(p.step()));
        StringBuilder out = new StringBuilder(points.get(0).metric() + " against training steps\n");
        out.append(String.format(Locale.ROOT, "%-10s", "step"));
        for (String r : recipes) out.append(String.format(Locale.ROOT, " %20s", r));
        out.append('\n');
        for (long step : steps) {
            out.append(String.format(Locale.ROOT, "%-10d", step));
            for (String r : recipes) {
                out.append(points.stream().filter(p -> p.recipe().equals(r) && p.step() == step).findFirst()
                        .map(p -> String.format(Locale.ROOT, " %20.4f", p.distance())).orElse(String.format(Locale.ROOT, " %20s", "-")));
            }
            out.append('\n');
        }
        return out.toString();
    }

    static String csv(List<Point> points) {
        StringBuilder out = new StringBuilder("recipe,step,metric,distance,evaluate_key\n");
        for (Point p : points) {
            out.append(String.format(Locale.ROOT, "%s,%d,%s,%.17g,%s%n", p.recipe(), p.step(), p.metric(), p.distance(), p.evaluateKey()));
        }
        return out.toString();
    }

    /** Distance against training steps, one line per recipe, as a PNG (the shape of the papers' FID-against-iterations figures). */
    static byte[] plot(List<Point> points) throws IOException {
        String metric = points.get(0).metric();
        XYChart chart = new XYChartBuilder().width(900).height(560).title(metric + " against training steps")
                .xAxisTitle("training step").yAxisTitle(metric + " (lower is better)").build();
        chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        for (String recipe : points.stream().map(Point::recipe).distinct().toList()) {
            List<Point> line = points.stream().filter(p -> p.recipe().equals(recipe)).toList();
            chart.addSeries(recipe, line.stream().mapToDouble(Point::step).toArray(), line.stream().mapToDouble(Point::distance).toArray());
        }
        return BitmapEncoder.getBitmapBytes(chart, BitmapEncoder.BitmapFormat.PNG);
    }
}
