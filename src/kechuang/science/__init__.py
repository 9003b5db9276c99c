"""AI for Science (科学智能): datasets, models, evaluation tasks, runs and leaderboards."""
