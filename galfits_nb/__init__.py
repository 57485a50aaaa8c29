"""galfits_nb: joint fits of galaxies in multi-band images and spectra."""
__version__ = "0.1.0"
