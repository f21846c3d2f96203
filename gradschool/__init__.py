"""gradschool: a deep-learning workbench for learners.

Two engines behind one training loop: a from-scratch NumPy engine with a PyTorch-shaped API
(`gradschool.engine`) and PyTorch itself. See README.md and docs/.
"""

__version__ = "0.1.0"
