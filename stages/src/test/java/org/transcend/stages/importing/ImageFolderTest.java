package org.transcend.stages.importing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class ImageFolderTest {

    @Test
    void classFolderNamesThatLeaveTheRootAreRefused() {
        // Object stores list such names as they are; a local file system never shows them to the glob.
        assertEquals("class folder name '..' is not a plain name inside the dataset root gs://b/data",
                ImageFolder.notAPlainClassName("gs://b/data", "gs://b/data/../secret.png"));
        assertNotNull(ImageFolder.notAPlainClassName("gs://b/data", "gs://b/data/./x.png"));
        assertNotNull(ImageFolder.notAPlainClassName("gs://b/data", "gs://b/data/a\\..\\b/x.png"));
        assertNull(ImageFolder.notAPlainClassName("gs://b/data", "gs://b/data/coats/x.png"));
        assertEquals("coats", ImageFolder.classOf("/d/data/", "/d/data/coats/x.png"));
    }
}
