// PushEngine: partitions, schedules, state, outcomes.
