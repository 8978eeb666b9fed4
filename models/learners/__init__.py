"""Training steps, each a curried learner ``df -> (predict_fn, scored_df, log)`` (the fklearn contract)."""
