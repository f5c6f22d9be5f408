package io.pmig.cli.lab;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A lab test's lab: built fresh before each test ({@link LabTestSupport#freshLab}) and taken down after it, even when
 * the test failed. {@code @ExtendWith(FreshLab.class)} on the test class.
 */
final class FreshLab implements BeforeEachCallback, AfterEachCallback {
    @Override
    public void beforeEach(ExtensionContext context) {
        LabTestSupport.freshLab();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        LabTestSupport.removeLab();
    }
}
