"""The scikit-learn layer: estimators written to scikit-learn's contract, their training and
evaluation on the ECR calibration data, and their outputs for one person.

``estimators`` defines them; ``training`` fits, saves (skops, with a SHA-256 in the model
card) and loads them; ``evaluation`` measures them on held-out rows against fixed targets;
``predict`` turns one person's answers into the facts the rules read. The artifacts live in
the top-level ``models/`` folder. No Flask or SQLAlchemy.
"""
