"""Framework integrations; each module imports its own framework and nothing else does."""
