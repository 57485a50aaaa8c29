DOUBLET_RATIOS = {}
air_to_vacuum = line_wavelength = None
