"""dense-rl: PPO for code LLMs with dense, execution-aware token rewards.

A Jupyter-first reproduction of "Domain-Adaptable Reinforcement Learning for Code Generation with Dense
Rewards". The notebooks under notebooks/ narrate; this package computes. Start with README.md.
"""

__version__ = "0.1.0"
