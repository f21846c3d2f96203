"""The engine track (`gradschool build`): a fresh workspace fails every step, the reference
solutions pass every step and train the seed's MLP to >= 95%, wrong answers fail with a message
that names the op, the shapes and the largest error, and no empty or constant answer passes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradschool.cli import main
from gradschool.track import source
from gradschool.track.grader import grade
from gradschool.track.report import format_failure, format_table, records
from gradschool.track.steps import STEPS, find_step
from gradschool.track.workspace import Workspace, start


def _write(root: Path, step: str, bodies: dict[int, str] | None = None) -> None:
    """Fill a step's blanks: the reference body, or bodies[i] for blank i."""
    for i, blank in enumerate(find_step(step).blanks):
        body = (bodies or {}).get(i) or source.solution_body(blank)
        path = root / "engine" / blank.file
        text = source.fill_in(path.read_text(encoding="utf-8"), blank, textwrap.dedent(body))
        path.write_text(text, encoding="utf-8")


def _workspace(root: Path, solved: tuple[str, ...] = (), **bodies: dict[int, str]) -> Workspace:
    start(root)
    for name in solved:
        _write(root, name)
    for name, by_blank in bodies.items():
        _write(root, name, by_blank)
    return Workspace.open(root)


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace with every reference solution copied in, the way a learner would."""
    return _workspace(tmp_path_factory.mktemp("track") / "solved", tuple(s.name for s in STEPS))


def _result(workspace: Workspace, step: str, **kw: object):
    (result,) = grade(workspace, [find_step(step)], **kw)
    return result


def test_a_fresh_workspace_fails_every_step(tmp_path, capsys):
    assert main(["build", "start", "--dir", str(tmp_path / "ws"), "--lang", "zh"]) == 0
    assert "15" in capsys.readouterr().out
    workspace = Workspace.open(tmp_path / "ws")
    assert workspace.lang == "zh"
    text = (tmp_path / "ws" / "engine" / "tensor.py").read_text(encoding="utf-8")
    assert "TODO(step 1, add)" in text and "反向传播" in text  # Chinese docstrings
    assert "_unbroadcast(g, a.shape), _unbroadcast(g, b.shape)" not in text  # no answers
    assert "d(e^x)/dx = e^x" not in text  # the comment beside a lambda went with it
    results = grade(workspace)
    assert [r.status for r in results] == ["not started"] * len(STEPS)
    # ... and each blank really is blank: the package imports, and the blanks raise
    package = workspace.load()
    with pytest.raises(NotImplementedError, match="step 9"):
        package.functional.softmax(package.tensor([1.0, 2.0]))
    out = package.Tensor([1.0, 2.0], requires_grad=True) + 1.0
    with pytest.raises(NotImplementedError, match="step 1"):
        out._backward(np.ones(2))
    assert main(["build", "check", "--dir", str(tmp_path / "ws")]) == 1
    out = capsys.readouterr().out
    assert "未开始" in out and "15 个步骤中通过了 0 个" in out


def test_start_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["build", "start", "--dir", str(tmp_path)]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["build", "start", "--dir", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the engine files are written
    assert main(["build", "check", "--dir", str(tmp_path / "nowhere")]) == 1
    assert "build start" in capsys.readouterr().err


def test_the_reference_solutions_pass_every_step(solved, capsys):
    results = grade(solved)
    assert [r.status for r in results] == ["passed"] * len(STEPS), format_table(results)
    assert all(r.passed == r.total > 0 for r in results)
    # Filled in, the workspace IS gradschool's engine again (the lambdas became defs).
    for file in source.MODULES:
        text = (solved.package_dir / file).read_text(encoding="utf-8")
        if file != "tensor.py":
            assert text == source.reference_text(file), file
    assert main(["build", "check", "--dir", str(solved.root)]) == 0
    assert "15 of 15 steps pass" in capsys.readouterr().out


@pytest.mark.slow
def test_build_train_reaches_the_engines_accuracy_on_the_learners_engine(solved, capsys):
    # The seed's recipe, 10 epochs of the embedded MNIST slice, through gradschool's trainer on
    # the learner's engine and then on gradschool's: ~10 s on one quiet core.
    assert main(["build", "train", "--dir", str(solved.root)]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("Your engine: test accuracy") and "Epoch: 10," in out
    mine, ref = (float(part.split("%")[0].split()[-1]) for part in last.split(";"))
    assert mine >= 95.0 and abs(mine - ref) <= 0.5, last


def test_train_refuses_until_every_step_passes(tmp_path, capsys):
    _workspace(tmp_path / "ws", ("add",))
    assert main(["build", "train", "--dir", str(tmp_path / "ws")]) == 1
    assert "14 of 15 do not yet" in capsys.readouterr().err


def test_a_missing_unbroadcast_names_the_op_the_shapes_and_the_error(tmp_path):
    workspace = _workspace(tmp_path / "ws", add={1: "return g, g"})
    result = _result(workspace, "add")
    assert result.status == "failed"
    message = format_failure(result, "en")
    assert "Step 1 (add)" in message and "a (4, 3) + b (3,)" in message
    assert "gradient of b" in message and "shape (4, 3)" in message and "shape (3,)" in message
    assert "largest error" in message and "Hint:" in message
    zh = format_failure(result, "zh")
    assert "第 1 步（add）" in zh and "b 的梯度" in zh and "提示" in zh
    assert find_step("add").hint["zh"] in zh


def test_a_transposed_matmul_gradient_names_the_largest_error(tmp_path):
    workspace = _workspace(tmp_path / "ws", ("add",), matmul={0: "return g @ b.data, a.data.T @ g"})
    result = _result(workspace, "matmul")
    assert result.status == "failed" and result.failure.kind == "value"
    assert result.failure.max_error > 0.1
    message = format_failure(result, "en")
    assert "Step 3 (matmul) fails on: a (4, 4) @ b (4, 4)" in message
    assert "gradient of a" in message and "largest error: " in message
    assert find_step("matmul").hint["en"] in message
    assert "最大误差" in format_failure(result, "zh")


# Blank bodies that compute nothing, or a constant: not one may pass.
_CONSTANT = {
    "add": {0: "return np.zeros(shape)", 1: "return np.ones_like(g), np.ones_like(g)"},
    "mul": {0: "return g, g"},
    "matmul": {0: "return np.zeros(a.shape), np.zeros(b.shape)"},
    "exp": {0: "return (g,)"},
    "log": {0: "return (np.ones_like(g),)"},
    "relu": {0: "return Tensor._make(self.data, (self,), lambda g: (g,), 'relu')"},
    "sum": {0: "return (np.ones(shape),)"},
    "backward": {0: "return [root]"},
    "softmax": {0: "return x", 1: "return x", 2: "return (input * 0).sum()"},
    "sgd": {0: "return None"},
    "adam": {0: "return None"},
    "schedule": {i: "return base_lr" for i in range(4)},
    "loop": {0: "return [0.0] * epochs"},
    "conv2d": {0: "return (np.zeros((N, C, H, W)),)", 1: "return input"},
    "attention": {0: "return value"},
}


def test_empty_and_constant_submissions_fail_every_step(tmp_path):
    empty = {s.name: {i: "pass" for i in range(len(s.blanks))} for s in STEPS}
    for name, bodies in (("empty", empty), ("constant", _CONSTANT)):
        workspace = _workspace(tmp_path / name, **bodies)
        results = grade(workspace)
        passed = [r.step.name for r in results if r.status != "failed"]
        assert passed == [], f"{name} submission: {passed} did not fail"


def test_a_recursive_or_unordered_topological_sort_fails(tmp_path):
    recursive = """
        order, seen = [], set()
        def visit(node):
            if id(node) in seen:
                return
            seen.add(id(node))
            for parent in node._parents:
                if parent.requires_grad:
                    visit(parent)
            order.append(node)
        visit(root)
        return order
    """
    workspace = _workspace(tmp_path / "rec", backward={0: recursive})
    result = _result(workspace, "backward")
    assert result.status == "failed" and result.passed == result.total - 1
    assert result.failure.kind == "recursion" and "2000" in result.failure.case
    unordered = """
        order, stack, seen = [], [root], set()
        while stack:
            node = stack.pop()
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
                stack.extend(p for p in node._parents if p.requires_grad)
        return order
    """
    workspace = _workspace(tmp_path / "bfs", backward={0: unordered})
    failure = _result(workspace, "backward").failure
    assert failure.kind == "structure" and "before its parent" in failure.got


def test_a_loop_that_forgets_zero_grad_fails(tmp_path):
    body = """
        losses = []
        for _ in range(epochs):
            total = 0.0
            for inputs, labels in trainloader:
                loss = criterion(model(inputs), labels)
                loss.backward()
                optimizer.step()
                total += loss.item()
            losses.append(total / len(trainloader))
        return losses
    """
    failure = _result(_workspace(tmp_path / "ws", loop={0: body}), "loop").failure
    assert failure is not None and failure.what == "the mean loss of each epoch"


def test_finite_differences_stand_in_for_torch(solved, tmp_path):
    names = ["add", "matmul", "relu", "sum", "softmax", "sgd", "adam", "schedule", "conv2d"]
    results = grade(solved, [find_step(n) for n in names], use_torch=False)
    assert all(r.ok for r in results), format_table(results)
    workspace = _workspace(tmp_path / "ws", ("add",), matmul={0: "return g @ b.data, a.data.T @ g"})
    assert _result(workspace, "matmul", use_torch=False).failure.kind == "value"


def test_a_workspace_that_does_not_import_names_the_file_and_line(tmp_path):
    workspace = _workspace(tmp_path / "ws", ("add",))
    conv = workspace.package_dir / "conv.py"
    conv.write_text(conv.read_text(encoding="utf-8") + "\ndef broken(:\n", encoding="utf-8")
    results = grade(workspace)
    assert {r.status for r in results} == {"error"}
    assert "engine/conv.py, line" in results[0].failure.detail


def test_check_json_over_a_folder_of_submissions(tmp_path, capsys):
    subs = tmp_path / "submissions"
    _workspace(subs / "alice", ("add",))
    start(subs / "bob")
    assert main(["build", "check", "1", "--json", "--dir", str(subs / "alice")]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["workspace"] == "alice" and record["status"] == "passed"
    main(["build", "check", "--json", "--dir", str(subs)])  # each in its own process
    table = json.loads(capsys.readouterr().out)
    assert len(table) == 2 * len(STEPS)
    status = {(r["workspace"], r["step"]): r["status"] for r in table}
    assert status["alice", "add"] == "passed" and status["bob", "add"] == "not started"
    assert status["alice", "mul"] == "not started"
    assert set(table[0]) >= {"case", "expected", "got", "max_error", "passed", "total"}


def test_records_carry_the_failure(tmp_path):
    workspace = _workspace(tmp_path / "ws", add={1: "return g, g"})
    (record,) = records("ws", "ws", [_result(workspace, "add")])
    assert record["status"] == "failed" and record["kind"] == "shape"
    assert record["got"] == "shape (4, 3)" and record["case"].startswith("a (4, 3) + b (3,)")


def test_solution_prints_the_engines_own_code(capsys):
    assert main(["build", "solution", "matmul"]) == 0
    out = capsys.readouterr().out
    assert "np.swapaxes" in out and "gradschool/engine/tensor.py, line" in out
    assert main(["build", "solution", "4", "--lang", "zh"]) == 0
    assert "return (g * out,)" in capsys.readouterr().out
    assert main(["build", "solution", "nope"]) == 2
    assert "unknown step" in capsys.readouterr().err


def test_an_endless_loop_is_stopped(tmp_path):
    workspace = _workspace(tmp_path / "ws", backward={0: "while True:\n    pass"})
    result = _result(workspace, "backward", timeout=1)
    assert result.status == "failed" and result.failure.kind == "timeout"
    assert "超时" in format_table([result], "zh")
