"""Understudy's trainer: LoRA fine-tuning of small causal LMs on captured tasks, and serving."""
