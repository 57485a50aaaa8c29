spectral_templates = template_fwhm = None
