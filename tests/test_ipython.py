"""Reading IPython syntax: escapes become placeholders, cell magics are classified, installs found."""

from __future__ import annotations

import ast
from textwrap import dedent

import pytest

from ingest.installs import normalise_name, parse_install_command
from ingest.ipython import read_cell


def _code(source: str) -> str:
    code = read_cell(dedent(source)).code
    assert code is not None
    return code


def _assert_parses_with_same_lines(source: str) -> str:
    source = dedent(source)
    code = _code(source)
    ast.parse(code)
    assert code.count("\n") == source.replace("\r\n", "\n").count("\n")
    return code


NEUTRALISED = [
    pytest.param("!pip install -q boto3\nimport boto3\n", "pass\nimport boto3\n", id="shell escape"),
    pytest.param("!!ls\nx = 1\n", "pass\nx = 1\n", id="double bang"),
    pytest.param("%matplotlib inline\nimport numpy\n", "pass\nimport numpy\n", id="line magic"),
    pytest.param("files = !ls data/*.csv\n", "files = None\n", id="shell assignment"),
    pytest.param("t = %timeit -o f()\n", "t = None\n", id="magic assignment"),
    pytest.param("d['k'] = !ls\n", "d['k'] = None\n", id="subscript shell assignment"),
    pytest.param("print('a = %s' % x)\n", "print('a = %s' % x)\n", id="percent format is not a magic assignment"),
    pytest.param("np.percentile?\n", "pass\n", id="help suffix"),
    pytest.param("pd.read_csv??\n", "pass\n", id="double help suffix"),
    pytest.param("?LogisticRegression\nclf = 1\n", "pass\nclf = 1\n", id="help prefix"),
    pytest.param(
        "%watermark --python \\\n    --packages sklearn\nimport shap\n",
        "pass\n\nimport shap\n",
        id="backslash continuation of a magic",
    ),
    pytest.param(
        "if missing:\n    !aws s3 cp a b\nx = 1\n",
        "if missing:\n    pass\nx = 1\n",
        id="magic alone in a block",
    ),
    pytest.param(
        "for name in names:\n    %time frame = load(name)\n",
        "for name in names:\n    frame = load(name)\n",
        id="time magic keeps its statement",
    ),
    pytest.param("%timeit -n 3 -r1 -q f(x)\n", "f(x)\n", id="timeit options dropped"),
    pytest.param("total = (a\n% b)\n", "total = (a\n% b)\n", id="modulo inside brackets"),
    pytest.param("total = a \\\n% b\n", "total = a \\\n% b\n", id="modulo after a backslash"),
    pytest.param("s = '''\n%not_a_magic\n!not_shell\n'''\n", "s = '''\n%not_a_magic\n!not_shell\n'''\n", id="magic text in a string"),
    pytest.param("x = 'what?'  # really?\n", "x = 'what?'  # really?\n", id="question marks in strings and comments"),
    pytest.param("    import os\n    os.getcwd()\n", "import os\nos.getcwd()\n", id="leading indent"),
    pytest.param(">>> import os\n>>> os.getcwd()\n", "import os\nos.getcwd()\n", id="classic prompts"),
    pytest.param("x = 1\n%%bash\n", "x = 1\npass\n", id="cell magic syntax after the first line"),
]


@pytest.mark.parametrize(("source", "expected"), NEUTRALISED)
def test_neutralise(source: str, expected: str) -> None:
    assert read_cell(source).code == expected


@pytest.mark.parametrize(
    "source",
    [
        """
        import os
        if not os.path.exists("a"):
            !aws s3 cp s3://b/a a
        for i in range(3):
            %time x = i
        def f():
            %matplotlib inline
        class A:
            ?os
        """,
        """
        try:
            %load_ext autoreload
        except Exception:
            !echo failed
        """,
        """
        with open("x") as handle:
            %time data = handle.read()
        print(data)
        """,
    ],
    ids=["blocks", "try", "with"],
)
def test_magic_only_blocks_parse(source: str) -> None:
    _assert_parses_with_same_lines(source)


def test_bom_and_crlf_normalised() -> None:
    cell = read_cell("\ufeffimport re\r\nx = 1\r\ny = 2\rz = 3\r\n")
    assert cell.code == "import re\nx = 1\ny = 2\nz = 3\n"
    assert cell.lines == 4


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("%%time\nimport numpy as np\n", "\nimport numpy as np\n"),
        ("%%timeit -n 3 -r 1\nf(x)\n", "\nf(x)\n"),
        ("%%capture out\n!pip install x\nimport x\n", "\npass\nimport x\n"),
        ("\n%%prun\nrun()\n", "\n\nrun()\n"),
    ],
    ids=["time", "timeit", "capture", "prun after a blank line"],
)
def test_cell_magic_with_python_body(source: str, body: str) -> None:
    cell = read_cell(source)
    assert cell.language == "python"
    assert cell.origin == "cell"
    assert cell.code == body


@pytest.mark.parametrize(
    ("source", "language"),
    [
        ("%%bash\necho hi\n", "bash"),
        ("%%sh\nls\n", "sh"),
        ("%%script bash\necho hi\n", "bash"),
        ("%%html\n<b>x</b>\n", "html"),
        ("%%javascript\nrequire(['d3'])\n", "javascript"),
        ("%%js\nalert(1)\n", "javascript"),
        ("%%latex\n$x$\n", "latex"),
        ("%%markdown\n# x\n", "markdown"),
        ("%%svg\n<svg/>\n", "svg"),
        ("%%sql\nselect 1\n", "sql"),
        ("%%R\nlibrary(dplyr)\n", "r"),
        ("%%writefile requirements.txt\nboto3\n", "txt"),
        ("%%my_custom_magic\nwhatever\n", "my_custom_magic"),
    ],
)
def test_cell_magic_other_language(source: str, language: str) -> None:
    cell = read_cell(source)
    assert cell.code is None
    assert cell.language == language


def test_writefile_py_is_a_module_of_its_own() -> None:
    cell = read_cell("%%writefile src/train.py\nimport tensorflow as tf\n!not ipython here\n")
    assert cell.origin == "writefile:src/train.py"
    assert cell.append is False
    assert cell.code == "\nimport tensorflow as tf\n!not ipython here\n"


def test_writefile_append() -> None:
    cell = read_cell("%%writefile -a train.py\nimport numpy as np\n")
    assert cell.origin == "writefile:train.py"
    assert cell.append is True


def test_python_subprocess_magic() -> None:
    cell = read_cell("%%script python3\nimport sys\n")
    assert cell.language == "python"
    assert cell.origin == "script:python3"


def test_unwrap_can_be_turned_off() -> None:
    assert read_cell("%time x = f()\n", unwrap=False).code == "pass\n"
    assert read_cell("%time x = f()\n").unwrapped is True


@pytest.mark.parametrize(
    ("source", "packages"),
    [
        ("!pip install -q --upgrade sagemaker boto3\n", ["sagemaker", "boto3"]),
        ('!pip install sagemaker==2.200.0 "boto3>=1.28"\n', ["sagemaker", "boto3"]),
        ("%pip install -q mxnet-cu112 gluonnlp\n", ["mxnet-cu112", "gluonnlp"]),
        ("%conda install -y -c conda-forge lightgbm\n", ["lightgbm"]),
        ("!pip install -r requirements.txt torch\n", ["torch"]),
        ("!{sys.executable} -m pip install -U 'transformers[torch]>=4.0'\n", ["transformers"]),
        ("!python -m pip install --user Pillow\n", ["pillow"]),
        ("!pip install git+https://github.com/org/Some_Repo.git\n", ["some-repo"]),
        ("!pip install -e git+https://host/x.git#egg=foo_bar\n", ["foo-bar"]),
        ("!pip install ./dist/my_pkg-1.0-py3-none-any.whl\n", ["my-pkg"]),
        ("!pip install pkg @ https://host/pkg.zip\n", ["pkg"]),
        ("!pip install $PACKAGE {other} .\n", []),
        ("!pip install x > /dev/null 2>&1 && pip install y\n", ["x", "y"]),
        ("!pip list\n!pip show boto3\n", []),
        ("%%bash\npip install foo \\\n    bar\n", ["foo", "bar"]),
        ("if True:\n    !pip install quiet-pkg\n", ["quiet-pkg"]),
    ],
)
def test_installs(source: str, packages: list[str]) -> None:
    assert [install.package for _, install in read_cell(source).installs] == packages


def test_install_rows_keep_installer_and_line() -> None:
    cell = read_cell("import os\n%conda install numpy=1.26\n!pip3 install Foo.Bar\n")
    found = [(line, install.installer, install.package, install.requirement) for line, install in cell.installs]
    assert found == [(2, "conda", "numpy", "numpy=1.26"), (3, "pip", "foo-bar", "Foo.Bar")]


def test_install_command_outside_ipython() -> None:
    installs = parse_install_command("sudo pip3 install Pillow; conda install conda-forge::numpy=1.26")
    assert [(install.installer, install.package) for install in installs] == [("pip", "pillow"), ("conda", "numpy")]


@pytest.mark.parametrize(("name", "normalised"), [("Foo.Bar_baz", "foo-bar-baz"), ("scikit_learn", "scikit-learn")])
def test_normalise_name(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised
