"""Extraction of imports and uses from inline notebooks: aliases, scopes, receivers, clients."""

from __future__ import annotations

from textwrap import dedent

import libcst as cst
import pytest

from ingest import schema
from ingest.cellcache import CellCache
from ingest.extract import extract_notebook
from ingest.fastparse import fast_parsing
from ingest.model import CellSource, ExtractedRows


def _cells(*sources: str) -> list[CellSource]:
    return [CellSource(index, "code", dedent(source)) for index, source in enumerate(sources)]


def _extract(*sources: str) -> ExtractedRows:
    return extract_notebook("nb", _cells(*sources))


def _callees(*sources: str) -> set[str]:
    return {row["callee"] for row in _extract(*sources).uses if row["callee"] is not None}


def _references(*sources: str) -> set[str]:
    return {row["qualified_name"] for row in _extract(*sources).uses if row["use_kind"] == "reference"}


def _imports(*sources: str) -> list[tuple]:
    return [(row["module"], row["name"], row["alias"], row["kind"]) for row in _extract(*sources).imports]


# -- aliases and attribute chains ---------------------------------------------------

ALIASES = [
    pytest.param(["import numpy as np\nnp.zeros(3)\n"], "numpy.zeros", id="module alias"),
    pytest.param(["import mxnet as mx\nmx.gluon.nn.Dense(3)\n"], "mxnet.gluon.nn.Dense", id="long chain"),
    pytest.param(["import os.path as osp\nosp.join('a', 'b')\n"], "os.path.join", id="dotted module alias"),
    pytest.param(["import sagemaker.tensorflow\nsagemaker.get_execution_role()\n"], "sagemaker.get_execution_role", id="dotted import binds the package"),
    pytest.param(["from sagemaker import get_execution_role as ger\nger()\n"], "sagemaker.get_execution_role", id="from import alias"),
    pytest.param(["from tensorflow import keras\n", "keras.layers.Dense(1)\n"], "tensorflow.keras.layers.Dense", id="alias from an earlier cell"),
    pytest.param(["import numpy\nnp = numpy\nnp.ones(2)\n"], "numpy.ones", id="assignment of an alias"),
    pytest.param(["from . import features\nfeatures.make()\n"], ".features.make", id="relative package import"),
    pytest.param(["from ..common.io import read\nread()\n"], "..common.io.read", id="relative module import"),
]


@pytest.mark.parametrize(("sources", "callee"), ALIASES)
def test_alias_resolution(sources: list[str], callee: str) -> None:
    assert callee in _callees(*sources)


def test_alias_never_reported_as_written() -> None:
    callees = _callees("import mxnet as mx\nfrom x import y as z\nmx.nd.array([1])\nz()\n")
    assert callees == {"mxnet.nd.array", "x.y"}


def test_attribute_use_is_not_a_call() -> None:
    rows = _extract("import tensorflow as tf\nx = tf.float32\nprint(tf)\n").uses
    assert [(row["qualified_name"], row["is_call"], row["callee"]) for row in rows] == [
        ("tensorflow.float32", False, None),
        ("tensorflow", False, None),
    ]


def test_package_and_member() -> None:
    rows = _extract("import mxnet as mx\nmx.gluon.nn.Dense(3)\nfrom .m import f\nf()\n").uses
    assert [(row["package"], row["member"]) for row in rows] == [("mxnet", "gluon"), (None, None)]


def test_subscript_ends_a_reference() -> None:
    rows = _extract("import os\nos.environ['HOME'].lower()\n").uses
    assert [(row["use_kind"], row["qualified_name"], row["callee"]) for row in rows] == [
        ("reference", "os.environ", None),
        ("method", None, "*.lower"),
    ]


# -- rebinding and shadowing ----------------------------------------------------------

SHADOWED = [
    pytest.param(["import numpy as np\n", "np = None\n", "np.zeros(1)\n"], id="rebound in a later cell"),
    pytest.param(["import tensorflow as tf\n", "tf = 's3://bucket'\n", "tf.rstrip('/')\n"], id="rebound to a string"),
    pytest.param(["import numpy as np\ndef f(np):\n    return np.zeros(1)\n"], id="parameter"),
    pytest.param(["import numpy as np\ndef f():\n    np = make()\n    return np.zeros(1)\n"], id="local assignment"),
    pytest.param(["import numpy as np\ndef f():\n    y = np.zeros(1)\n    np = 3\n"], id="local assigned after use"),
    pytest.param(["import numpy as np\nf = lambda np: np.zeros(1)\n"], id="lambda parameter"),
    pytest.param(["import numpy as np\n[np.zeros(1) for np in items]\n"], id="comprehension variable"),
    pytest.param(["import numpy as np\nfor np in items:\n    np.zeros(1)\n"], id="for target"),
    pytest.param(["import numpy as np\nwith open('f') as np:\n    np.zeros(1)\n"], id="with target"),
    pytest.param(["import numpy as np\ntry:\n    pass\nexcept Exception as np:\n    np.zeros(1)\n"], id="except name"),
    pytest.param(["import numpy as np\ndel np\nnp.zeros(1)\n"], id="del"),
    pytest.param(["import numpy as np\nnp += 1\nnp.zeros(1)\n"], id="augmented assignment"),
    pytest.param(["import numpy as np\ndef np():\n    pass\nnp.zeros(1)\n"], id="function definition"),
    pytest.param(["import numpy as np\na, np = 1, 2\nnp.zeros(1)\n"], id="tuple target"),
    pytest.param(["import numpy as np\nif (np := 3):\n    np.zeros(1)\n"], id="walrus"),
]


@pytest.mark.parametrize("sources", SHADOWED)
def test_shadowed_alias_is_not_resolved(sources: list[str]) -> None:
    assert "numpy.zeros" not in _callees(*sources)


def test_global_alias_visible_in_function() -> None:
    assert "numpy.zeros" in _callees("import numpy as np\ndef f(x):\n    return np.zeros(x)\n")


def test_function_import_stays_in_function() -> None:
    callees = _callees("def f():\n    import pandas as pd\n    pd.read_csv('a')\npd.read_csv('b')\n")
    assert "pandas.read_csv" in callees
    rows = [row for row in _extract("def f():\n    import pandas as pd\n    pd.read_csv('a')\npd.read_csv('b')\n").uses]
    assert [row["line"] for row in rows if row["callee"] == "pandas.read_csv"] == [3]


def test_class_body_has_its_own_scope() -> None:
    source = """
    class Loader:
        import json as j
        text = j.dumps({})
        def read(self):
            return j.loads('{}')
    j.dumps(1)
    """
    calls = [(row["callee"], row["line"]) for row in _extract(source).uses if row["callee"] == "json.dumps"]
    assert calls == [("json.dumps", 4)]
    assert "json.loads" not in _callees(source)


def test_global_statement_binds_module_name() -> None:
    source = """
    import boto3
    def connect():
        global sm
        sm = boto3.client('sagemaker')
    """
    assert "boto3.client('sagemaker').list_training_jobs" in _callees(source, "sm.list_training_jobs()\n")


def test_nonlocal_binds_enclosing_function_name() -> None:
    source = """
    import boto3
    def outer():
        client = None
        def inner():
            nonlocal client
            client = boto3.client('s3')
        inner()
        client.list_buckets()
    """
    assert "boto3.client('s3').list_buckets" in _callees(source)


# -- imports ------------------------------------------------------------------------------


def test_import_kinds() -> None:
    source = """
    import os, sys as system
    from collections import OrderedDict as OD
    from numpy import *
    from .model import build
    from . import utils
    import importlib
    json_module = importlib.import_module('json')
    yaml_module = __import__('yaml')
    """
    assert _imports(source) == [
        ("os", None, None, "import"),
        ("sys", None, "system", "import"),
        ("collections", "OrderedDict", "OD", "from"),
        ("numpy", "*", None, "star"),
        (".model", "build", None, "relative"),
        (".", "utils", None, "relative"),
        ("importlib", None, None, "import"),
        ("json", None, "json_module", "dynamic"),
        ("yaml", None, "yaml_module", "dynamic"),
    ]


def test_dynamic_import_binds_its_alias() -> None:
    assert "json.dumps" in _callees("import importlib\nj = importlib.import_module('json')\nj.dumps(1)\n")


def test_package_of_imports() -> None:
    rows = _extract("import xml.etree.ElementTree as ET\nfrom .x import y\n").imports
    assert [row["package"] for row in rows] == ["xml", None]


def test_guard_and_scope() -> None:
    source = """
    try:
        import ujson as json
    except ImportError:
        import json
    import os
    def f():
        import boto3.session
    class A:
        from botocore.config import Config
        def m(self):
            import pyarrow.parquet as pq
    """
    rows = _extract(source).imports
    assert [(row["module"], row["is_guarded"], row["scope"]) for row in rows] == [
        ("ujson", True, "module"),
        ("json", True, "module"),
        ("os", False, "module"),
        ("boto3.session", False, "function"),
        ("botocore.config", False, "class"),
        ("pyarrow.parquet", False, "function"),
    ]


def test_imports_in_strings_are_not_imports() -> None:
    source = '''
    """
    import boto3
    """
    snippet = "from sagemaker import Session"
    # import torch
    import json
    '''
    assert [module for module, *_ in _imports(source)] == ["json"]


# -- receivers ---------------------------------------------------------------------------


def test_method_on_object_from_call() -> None:
    rows = _extract(
        "from sagemaker.estimator import Estimator\n",
        "est = Estimator(image_uri='x')\nest.fit('s3://bucket/train')\n",
    ).uses
    fit = [row for row in rows if row["use_kind"] == "method"]
    assert len(fit) == 1
    assert fit[0]["callee"] == "sagemaker.estimator.Estimator().fit"
    assert fit[0]["method"] == "fit"
    assert fit[0]["receiver_origin"] == "sagemaker.estimator.Estimator"
    assert fit[0]["qualified_name"] == "sagemaker.estimator.Estimator"
    assert fit[0]["package"] == "sagemaker"
    assert fit[0]["first_arg"] == "s3://bucket/train"
    assert fit[0]["receiver_arg"] is None
    assert fit[0]["line"] == 2


def test_direct_method_chain() -> None:
    callees = _callees("import sagemaker\nbucket = sagemaker.Session().default_bucket()\n")
    assert callees == {"sagemaker.Session", "sagemaker.Session().default_bucket"}


def test_two_step_receiver() -> None:
    callees = _callees("import sagemaker\nest = sagemaker.estimator.Estimator()\np = est.deploy()\np.predict(b'1')\n")
    assert "sagemaker.estimator.Estimator().deploy().predict" in callees


def test_rebound_receiver_follows_last_assignment() -> None:
    callees = _callees(
        "from tensorflow import keras\nfrom sagemaker.estimator import Estimator\n",
        "model = keras.models.load_model('m.h5')\n",
        "model = Estimator.attach('job')\nmodel.fit()\n",
    )
    assert "sagemaker.estimator.Estimator.attach().fit" in callees
    assert "tensorflow.keras.models.load_model().fit" not in callees


def test_unresolved_receiver() -> None:
    rows = _extract("model = build()\nmodel.fit(x)\n(a or b).fit_generator(g)\n").uses
    assert [(row["use_kind"], row["package"], row["method"], row["callee"]) for row in rows] == [
        ("method", None, "fit", "*.fit"),
        ("method", None, "fit_generator", "*.fit_generator"),
    ]


def test_with_statement_binds_the_context_object() -> None:
    assert "tensorflow.Session().run" in _callees("import tensorflow as tf\nwith tf.Session() as sess:\n    sess.run(op)\n")


# -- boto3 clients -----------------------------------------------------------------------

CLIENTS = [
    pytest.param("import boto3\nc = boto3.client('sagemaker')\n", "sagemaker", None, id="boto3.client"),
    pytest.param("import boto3\nc = boto3.client(service_name='sagemaker')\n", "sagemaker", None, id="service_name keyword"),
    pytest.param(
        "import boto3\ns = boto3.Session(region_name='eu-west-1')\nc = s.client('sagemaker')\n",
        "sagemaker",
        "boto3.Session().client",
        id="boto3.Session",
    ),
    pytest.param(
        "from boto3.session import Session\nc = Session().client(service_name='sagemaker')\n",
        "sagemaker",
        "boto3.session.Session().client",
        id="boto3.session.Session",
    ),
    pytest.param(
        "import sagemaker\nc = sagemaker.Session().boto_session.client('sagemaker')\n",
        "sagemaker",
        "sagemaker.Session().boto_session.client",
        id="sagemaker boto_session",
    ),
    pytest.param(
        "import sagemaker\nsess = sagemaker.Session()\nb = sess.boto_session\nc = b.client('sagemaker')\n",
        "sagemaker",
        "sagemaker.Session().boto_session.client",
        id="boto_session through variables",
    ),
    pytest.param(
        "import botocore.session\nc = botocore.session.get_session().create_client('sagemaker')\n",
        "sagemaker",
        "botocore.session.get_session().create_client",
        id="botocore create_client",
    ),
]


@pytest.mark.parametrize(("source", "service", "via"), CLIENTS)
def test_client_factories_normalise(source: str, service: str, via: str | None) -> None:
    rows = _extract(source, "c.create_training_job(TrainingJobName='x')\n").uses
    created = [row for row in rows if row["callee"] == "boto3.client"]
    assert [(row["qualified_name"], row["package"], row["member"], row["first_arg"], row["via"]) for row in created] == [
        ("boto3.client", "boto3", "client", service, via)
    ]
    method = [row for row in rows if row["method"] == "create_training_job"]
    assert len(method) == 1
    assert method[0]["callee"] == f"boto3.client('{service}').create_training_job"
    assert method[0]["receiver_origin"] == "boto3.client"
    assert method[0]["receiver_arg"] == service
    assert method[0]["use_kind"] == "method"


def test_resource_and_its_objects() -> None:
    callees = _callees("import boto3\ns3 = boto3.resource('s3')\ns3.Bucket('b').upload_file('a', 'b')\n")
    assert {"boto3.resource", "boto3.resource('s3').Bucket", "boto3.resource('s3').Bucket().upload_file"} <= callees


def test_sagemaker_session_client_attribute() -> None:
    callees = _callees("import sagemaker\nsess = sagemaker.Session()\nsess.sagemaker_client.describe_training_job(TrainingJobName='x')\n")
    assert "boto3.client('sagemaker').describe_training_job" in callees


def test_client_with_computed_service() -> None:
    rows = _extract("import boto3\nc = boto3.client(name)\nc.list()\n").uses
    assert [(row["callee"], row["first_arg"]) for row in rows] == [("boto3.client", None), ("boto3.client().list", None)]


FIRST_ARGS = [
    pytest.param("f('s3')", "s3", id="string"),
    pytest.param("f(\"a\" 'b')", "ab", id="concatenated"),
    pytest.param("f(r'\\d')", "\\d", id="raw string"),
    pytest.param("f(3)", "3", id="integer"),
    pytest.param("f(name)", None, id="name"),
    pytest.param("f(f'{x}')", None, id="f-string"),
    pytest.param("f(*args)", None, id="star"),
    pytest.param("f(key='v')", None, id="keyword only"),
    pytest.param("f(x, service_name='s3')", None, id="service_name after a positional"),
]


@pytest.mark.parametrize(("call", "first_arg"), FIRST_ARGS)
def test_first_arg(call: str, first_arg: str | None) -> None:
    rows = _extract(f"from m import f\n{call}\n").uses
    assert [row["first_arg"] for row in rows if row["callee"] == "m.f"] == [first_arg]


# -- IPython syntax, writefile, fallbacks ------------------------------------------------


def test_modulo_continuation_lines_parse() -> None:
    rows = _extract("import numpy as np\nx = (np.ones(3)\n% 2)\ny = np.ones(3) \\\n% 2\n")
    assert [row["status"] for row in rows.cells] == ["parsed"]
    assert [row["line"] for row in rows.uses] == [2, 4]


def test_magic_only_block_parses() -> None:
    rows = _extract("import pandas as pd\nif x:\n    !ls\nfor n in y:\n    %time f = pd.read_csv(n)\npd.read_csv('t')\n")
    assert [row["status"] for row in rows.cells] == ["parsed"]
    assert [row["line"] for row in rows.uses if row["callee"] == "pandas.read_csv"] == [5, 6]


def test_writefile_module_is_isolated() -> None:
    rows = _extract(
        "%%writefile train.py\nimport tensorflow as tf\ntf.keras.Sequential()\n",
        "%%writefile -a train.py\ntf.keras.layers.Dense(1)\n",
        "tf = 's3://bucket/'\ntf.rstrip('/')\n",
        "%%writefile other.py\ntf.constant(1)\n",
    )
    calls = {(row["origin"], row["callee"]) for row in rows.uses}
    assert ("writefile:train.py", "tensorflow.keras.Sequential") in calls
    assert ("writefile:train.py", "tensorflow.keras.layers.Dense") in calls
    assert ("cell", "*.rstrip") in calls
    assert not any(callee.startswith("tensorflow") for origin, callee in calls if origin != "writefile:train.py")
    assert [(row["origin"], row["module"]) for row in rows.imports] == [("writefile:train.py", "tensorflow")]
    assert [row["origin"] for row in rows.cells] == ["writefile:train.py", "writefile:train.py", "cell", "writefile:other.py"]


def test_notebook_aliases_do_not_reach_writefile() -> None:
    callees = _callees("import numpy as np\n", "%%writefile job.py\nnp.zeros(1)\n")
    assert "numpy.zeros" not in callees


def test_python2_cell_falls_back_with_imports() -> None:
    rows = _extract("import urllib2\nprint 'downloading'\ndata = urllib2.urlopen('http://x').read()\n")
    assert [row["status"] for row in rows.cells] == ["fallback"]
    assert [row["module"] for row in rows.imports] == ["urllib2"]
    assert "urllib2.urlopen" in {row["callee"] for row in rows.uses}


def test_unparseable_cell_keeps_its_imports() -> None:
    source = "import os\nfrom sys import path as p\ndef f():\n    import json\nx = `1`, `2\n"
    rows = _extract(source)
    assert [row["status"] for row in rows.cells] == ["fallback"]
    assert [(row["module"], row["line"], row["scope"]) for row in rows.imports] == [
        ("os", 1, "module"),
        ("sys", 2, "module"),
        ("json", 4, "function"),
    ]
    assert rows.cells[0]["error"]


def test_cell_without_imports_that_does_not_parse_fails() -> None:
    rows = _extract("x = = 1\n", "import os\nos.getcwd()\n")
    assert [row["status"] for row in rows.cells] == ["failed", "parsed"]
    assert rows.cells[0]["error"].startswith("ParserSyntaxError")
    assert "os.getcwd" in {row["callee"] for row in rows.uses}


@pytest.mark.parametrize(
    "source",
    [
        "x = " + "(" * 3000 + "1" + ")" * 3000 + "\n",
        "x = " + "[" * 600 + "]" * 600 + "\n",
        "x = " + " + ".join(["1"] * 20_000) + "\n",
        "import os\nx = a" + ".b" * 30_000 + "\n",
        "x = f" + "()" * 900 + "\n",
        "\x00\x01import os\n",
    ],
    ids=["deep parentheses", "deep lists", "long sum", "long attribute chain", "chained calls", "control characters"],
)
def test_hostile_cell_never_raises(source: str) -> None:
    rows = _extract(source, "import os\n")
    assert rows.cells[0]["status"] in ("failed", "fallback", "parsed")
    assert rows.cells[1]["status"] == "parsed"


def test_error_lines_refer_to_the_cell() -> None:
    rows = _extract("# comment\n\nx = = 1\n")
    assert "@ 3:" in rows.cells[0]["error"]


# -- cells rows, languages, columns, cache ------------------------------------------------


def test_cell_statuses_and_languages() -> None:
    cells = [
        CellSource(0, "markdown", "# Title\n"),
        CellSource(1, "code", "import os\n"),
        CellSource(2, "code", "%%bash\nls\n"),
        CellSource(3, "code", "library(dplyr)\n", language="R"),
        CellSource(4, "code", "import sys\n", language="python"),
        CellSource(5, "code", ""),
        CellSource(6, "raw", "text"),
    ]
    rows = extract_notebook("nb", cells)
    assert [(row["cell_index"], row["status"], row["language"]) for row in rows.cells] == [
        (0, "not_code", None),
        (1, "parsed", "python"),
        (2, "not_python", "bash"),
        (3, "not_python", "r"),
        (4, "parsed", "python"),
        (5, "parsed", "python"),
        (6, "not_code", None),
    ]


def test_rows_have_the_schema_columns() -> None:
    rows = _extract("!pip install boto3\nimport boto3\nc = boto3.client('s3')\nc.list_buckets()\n")
    for table, found in (("cells", rows.cells), ("imports", rows.imports), ("uses", rows.uses), ("installs", rows.installs)):
        assert found, f"no {table} rows"
        for row in found:
            assert list(row) == schema.TABLES[table].names
            assert row["notebook_id"] == "nb"


def test_crlf_lines_count_once() -> None:
    rows = _extract("import boto3\r\n\r\nx = 1\r\nboto3.client('s3')\r\n")
    assert [row["line"] for row in rows.uses] == [4]


def test_lines_after_dropped_comment_lines() -> None:
    source = '# setup\n\nimport os  # os\n"""\n# inside a string\n"""\n# done\nos.getcwd(\n    # argument\n    )\nos.sep\n'
    rows = _extract(source)
    assert [row["line"] for row in rows.imports] == [3]
    assert [(row["qualified_name"], row["line"]) for row in rows.uses] == [("os.getcwd", 8), ("os.sep", 11)]


def test_cache_parses_identical_cells_once() -> None:
    cache = CellCache()
    source = "import numpy as np\nnp.zeros(3)\n"
    first = extract_notebook("a", _cells(source, source), cache)
    second = extract_notebook("b", _cells(source), cache)
    assert (first.cache_misses, first.cache_hits) == (1, 1)
    assert (second.cache_misses, second.cache_hits) == (0, 1)
    assert [row["cache_hit"] for row in first.cells] == [False, True]
    uncached = extract_notebook("a", _cells(source, source))
    assert first.uses == uncached.uses
    assert first.imports == uncached.imports


def test_cache_shares_cells_that_differ_in_comments_only() -> None:
    cache = CellCache()
    rows = extract_notebook("a", _cells("import os\nos.sep\n", "# paths\nimport os\n\nos.sep\n"), cache)
    assert rows.cache_hits == 1
    assert [row["line"] for row in rows.uses] == [2, 4]


def test_cache_evicts_least_recently_used() -> None:
    cache = CellCache(max_entries=2)
    extract_notebook("a", _cells("a = 1\n", "b = 2\n", "a = 1\n", "c = 3\n", "a = 1\n", "b = 2\n"), cache)
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 4)


def test_fast_parsing_restores_libcst() -> None:
    name_class = cst.Name
    with pytest.raises(RuntimeError), fast_parsing():
        assert cst.Name is not name_class
        raise RuntimeError("leave the block")
    assert cst.Name is name_class
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not an identifier")
