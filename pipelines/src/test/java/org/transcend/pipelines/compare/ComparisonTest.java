package org.transcend.pipelines.compare;

import org.junit.jupiter.api.Test;
import org.transcend.pipelines.config.ConfigException;
import org.transcend.pipelines.config.Settings;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ComparisonTest {

    @Test
    void recipesAreEvaluatedEveryNStepsAndAtTheEnd() {
        Settings s = Settings.resolve("fmnist-compare", List.of());
        assertEquals(List.of(500L, 1000L), Comparison.evaluationSteps(s));
        assertEquals(List.of(1000L, 1600L), Comparison.evaluationSteps(s.with("student.steps", "1600").with("compare.eval-every", "1000")));
        assertEquals(List.of(500L, 1000L), Comparison.evaluationSteps(s.with("compare.eval-every", "0")), "0: every checkpoint");
        ConfigException e = assertThrows(ConfigException.class, () -> Comparison.evaluationSteps(s.with("compare.eval-every", "750")));
        assertEquals("compare.eval-every is 750; accepted: a multiple of train.checkpoint-every (500), the steps whose models the "
                + "training stages keep", e.getMessage());
    }

    @Test
    void recipeNamesAreCheckedAndKeepTheirOrder() {
        assertEquals(List.of(Recipe.SRA, Recipe.VANILLA), Recipe.parse("sra, vanilla"));
        ConfigException unknown = assertThrows(ConfigException.class, () -> Recipe.parse("vanilla,dsd"));
        assertTrue(unknown.getMessage().contains("'dsd'; accepted: [vanilla, vae-align, repa, sra, reg, self-transcendence]"), unknown.getMessage());
        assertThrows(ConfigException.class, () -> Recipe.parse("sra,sra"));
    }

    @Test
    void theTableHasOneRowPerStepAndOneColumnPerRecipe() {
        List<Comparison.Point> points = List.of(new Comparison.Point("vanilla", 2, "FD-x", 3.5, "k1"),
                new Comparison.Point("vanilla", 4, "FD-x", 2.25, "k2"), new Comparison.Point("sra", 4, "FD-x", 1.125, "k3"));
        String[] lines = Comparison.table(points).split("\n");
        assertEquals("FD-x against training steps", lines[0]);
        assertEquals(List.of("step", "vanilla", "sra"), List.of(lines[1].trim().split("\\s+")));
        assertEquals(List.of("2", "3.5000", "-"), List.of(lines[2].trim().split("\\s+")));
        assertEquals(List.of("4", "2.2500", "1.1250"), List.of(lines[3].trim().split("\\s+")));
        assertTrue(Comparison.csv(points).startsWith("recipe,step,metric,distance,evaluate_key\nvanilla,2,FD-x,3.5"));
    }
}
