"""Radiology: the CheXQuery-MedVLM model, its data, training, metrics, phantoms and inference."""
