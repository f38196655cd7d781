"""Official county-level administrative divisions of China, with centroids; data shipped in ``data/``."""
