"""PyTorch core of the training job: trains a DistilBERT classifier, or fine-tunes a DistilBERT, BERT or RoBERTa
checkpoint, on token shards and exports it.

Depends on torch (>= 1.13) and numpy only. Progress goes to stdout as one JSON object per line.
"""
