"""The errors of the models package: one root, one subclass per kind of failure."""


class ModelsError(Exception):
    """Root of every error raised by ``models``; catch this to handle any of them."""


class BundleError(ModelsError):
    """A model bundle is missing a file, has a file whose sha256 differs from the manifest, or cannot be decoded."""


class ScoringError(ModelsError, ValueError):
    """A row handed to the scorer holds a value of the wrong type for its feature."""


class RegistryError(ModelsError):
    """A registry operation cannot be done: unknown version, nothing to roll back to, or a bundle that fails to load."""
