"""The seed's training loop as one function: the reference of the engine track's `loop` step.

This is the loop printed in section 4 of the source (and fixed in lecture 6), unchanged but for
two things: it takes its pieces as arguments, and it returns the mean loss of each epoch
instead of printing it. `gradschool build start` copies this function into a learner's
workspace as `loop.py` with its body left blank; `gradschool build check loop` runs the
learner's version beside gradschool's trainer (`gradschool.train.trainer.Trainer.fit`, the one
training loop of every experiment) on a short run and compares the losses and the weights.

NOTE: gradschool itself never trains with this function: every run goes through the trainer.
It exists so that the learner's loop has a reference that lives in gradschool's source.
"""

from __future__ import annotations

from typing import Any


def train(model: Any, trainloader: Any, optimizer: Any, criterion: Any, epochs: int) -> list[float]:
    """Train `model` for `epochs` passes over `trainloader`; return each epoch's mean loss."""
    losses = []
    for _ in range(epochs):
        model.train()  # dropout (if any) on; the seed's network has none
        running_loss = 0.0
        for inputs, labels in trainloader:  # one mini-batch: (B, ...) inputs, (B,) labels
            optimizer.zero_grad()  # NOTE: backward adds (+=) into .grad: forget the last batch's
            outputs = model(inputs)  # forward: (B, 10) logits
            loss = criterion(outputs, labels)  # a 0-d tensor: the batch's mean cross-entropy
            loss.backward()  # backpropagation: d loss / d weight into every .grad
            optimizer.step()  # gradient descent: weight -= lr * (its momentum-smoothed) grad
            running_loss += loss.item()
        losses.append(running_loss / len(trainloader))
    return losses
