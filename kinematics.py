C_KMS = 299792.458
broaden = match_resolution = None
