"""Planning: SQL syntax trees into trees of plan nodes (:mod:`dialect.plan.nodes`)."""
