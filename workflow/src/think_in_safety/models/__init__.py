"""The model side of the workflow: tiny model zoo, chat tuning data, LLaMA-Factory tuning,
thought splitting and response generation."""
