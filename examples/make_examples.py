"""Write the example notebook collection that `make run` studies.

The collection is small (about fifty files) but shaped like a real one. Plain
data-science notebooks form the denominator. AWS notebooks (boto, boto3,
botocore, sagemaker, mxnet) arrive over two years, so every figure and finding
of the report has data. It also holds the awkward inputs a real collection has:
markdown cells, magics, a `%%bash` cell, `!pip install`, a Python 2 notebook,
an nbformat 3 notebook, an R notebook, invalid JSON, a Git LFS pointer, an
identical copy of another notebook, and a zip archive read through the manifest.

The notebooks' code was written for this project; buckets, roles and account
ids are invented. Run it from anywhere; it rewrites the files beside it:

    python examples/make_examples.py
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLES_DIR = Path(__file__).resolve().parent
NOTEBOOKS_DIR = EXAMPLES_DIR / "notebooks"
ARCHIVE_PATH = EXAMPLES_DIR / "archives" / "legacy-notebooks.zip"
MANIFEST_PATH = EXAMPLES_DIR / "manifest.csv"

MANIFEST_COLUMNS = [
    "notebook_path",
    "archive",
    "member",
    "repo",
    "first_commit_at",
    "last_commit_at",
    "repo_last_commit_at",
]

# A fixed timestamp for zip entries, so the archive's listing does not change
# from one run of this script to the next.
ZIP_ENTRY_TIME = (2019, 6, 30, 12, 0, 0)

Cell = dict[str, Any]


# --- cells and notebooks ---------------------------------------------------


def _lines(text: str) -> list[str]:
    """Split cell text the way Jupyter stores it: a list of lines, newlines kept."""
    return textwrap.dedent(text).strip("\n").splitlines(keepends=True)


def code(text: str) -> Cell:
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": _lines(text),
    }


def markdown(text: str) -> Cell:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text)}


PYTHON3_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": "3.6.5",
    },
}

PYTHON2_METADATA = {
    "kernelspec": {"display_name": "Python 2", "language": "python", "name": "python2"},
    "language_info": {
        "codemirror_mode": {"name": "ipython", "version": 2},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython2",
        "version": "2.7.15",
    },
}

R_METADATA = {
    "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
    "language_info": {
        "codemirror_mode": "r",
        "file_extension": ".r",
        "mimetype": "text/x-r-source",
        "name": "R",
        "pygments_lexer": "r",
        "version": "3.5.1",
    },
}


def notebook_v4(cells: list[Cell], metadata: dict[str, Any] | None = None) -> str:
    document = {
        "cells": cells,
        "metadata": metadata if metadata is not None else PYTHON3_METADATA,
        "nbformat": 4,
        "nbformat_minor": 2,
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def notebook_v3(inputs: list[str]) -> str:
    """Serialise an nbformat 3 notebook, whose cells live in worksheets with code under `input`."""
    cells = [
        {
            "cell_type": "code",
            "collapsed": False,
            "input": _lines(text),
            "language": "python",
            "metadata": {},
            "outputs": [],
        }
        for text in inputs
    ]
    document = {
        "metadata": {"name": ""},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [{"cells": cells, "metadata": {}}],
    }
    return json.dumps(document, indent=1) + "\n"


# --- notebooks without AWS packages: the denominator -----------------------


def pandas_exploration(dataset: str, column: str) -> list[Cell]:
    return [
        markdown(f"# Exploring the {dataset} data\n\nA first look at the columns and their distributions."),
        code(
            """
            %matplotlib inline
            import numpy as np
            import pandas as pd
            import matplotlib.pyplot as plt
            import seaborn as sns
            """
        ),
        code(
            f"""
            df = pd.read_csv("data/{dataset}.csv")
            df.head()
            """
        ),
        code("df.describe(include='all')"),
        code(
            f"""
            fig, ax = plt.subplots(figsize=(8, 4))
            sns.histplot(df["{column}"].dropna(), bins=30, ax=ax)
            ax.set_title("{column}")
            plt.show()
            """
        ),
        code(
            f"""
            summary = df.groupby(df["{column}"] > df["{column}"].median()).mean(numeric_only=True)
            np.round(summary, 2)
            """
        ),
    ]


def sklearn_classifier(estimator_module: str, estimator_class: str, dataset: str) -> list[Cell]:
    return [
        markdown(f"## {estimator_class} on {dataset}"),
        code(
            f"""
            import pandas as pd
            from sklearn.datasets import load_{dataset}
            from sklearn.model_selection import train_test_split
            from sklearn.metrics import accuracy_score, classification_report
            from sklearn.{estimator_module} import {estimator_class}
            """
        ),
        code(
            f"""
            X, y = load_{dataset}(return_X_y=True)
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
            """
        ),
        code(
            f"""
            clf = {estimator_class}()
            clf.fit(X_train, y_train)
            predictions = clf.predict(X_test)
            print(accuracy_score(y_test, predictions))
            print(classification_report(y_test, predictions))
            """
        ),
    ]


def keras_local_training(units: int) -> list[Cell]:
    return [
        markdown("# A small dense network on MNIST"),
        code(
            """
            from keras.datasets import mnist
            from keras.models import Sequential
            from keras.layers import Dense, Dropout
            from keras.utils import to_categorical
            """
        ),
        code(
            """
            (x_train, y_train), (x_test, y_test) = mnist.load_data()
            x_train = x_train.reshape(-1, 784).astype("float32") / 255
            x_test = x_test.reshape(-1, 784).astype("float32") / 255
            y_train, y_test = to_categorical(y_train), to_categorical(y_test)
            """
        ),
        code(
            f"""
            model = Sequential()
            model.add(Dense({units}, activation="relu", input_shape=(784,)))
            model.add(Dropout(0.2))
            model.add(Dense(10, activation="softmax"))
            model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
            history = model.fit(x_train, y_train, batch_size=128, epochs=5, validation_data=(x_test, y_test))
            """
        ),
    ]


# --- boto 2, boto3 and botocore ---------------------------------------------


def legacy_boto_s3(bucket: str) -> list[Cell]:
    """Python 2 code: the print statements need the extractor's fallback."""
    return [
        markdown("# Listing S3 buckets with boto 2"),
        code(
            """
            import boto
            from boto.s3.connection import S3Connection
            from boto.s3.key import Key
            """
        ),
        code(
            f"""
            conn = boto.connect_s3()
            bucket = conn.get_bucket("{bucket}")
            for key in bucket.list(prefix="logs/"):
                print key.name, key.size
            """
        ),
        code(
            f"""
            k = Key(bucket)
            k.key = "reports/summary.csv"
            k.set_contents_from_filename("summary.csv")
            print "uploaded to", "{bucket}"
            """
        ),
    ]


def legacy_boto_ec2(region: str) -> list[Cell]:
    return [
        code(
            """
            import boto.ec2
            from boto.regioninfo import RegionInfo
            from boto.exception import EC2ResponseError
            """
        ),
        code(
            f"""
            ec2 = boto.ec2.connect_to_region("{region}")
            reservations = ec2.get_all_instances()
            instances = [i for r in reservations for i in r.instances]
            print(len(instances))
            """
        ),
        code(
            f"""
            region = RegionInfo(name="{region}", endpoint="ec2.{region}.amazonaws.com")
            try:
                ec2.stop_instances(instance_ids=[i.id for i in instances if i.state == "running"])
            except EC2ResponseError as error:
                print(error.message)
            """
        ),
    ]


def boto3_s3_and_dynamodb(bucket: str, table: str) -> list[Cell]:
    return [
        markdown("# Moving data between S3 and DynamoDB with boto3"),
        code(
            """
            import json
            import boto3 as b3
            from boto3.dynamodb.conditions import Key
            from botocore.exceptions import ClientError
            """
        ),
        code(
            f"""
            s3 = b3.resource("s3")
            bucket = s3.Bucket("{bucket}")
            objects = [obj.key for obj in bucket.objects.filter(Prefix="events/")]
            len(objects)
            """
        ),
        code(
            f"""
            dynamodb = b3.resource("dynamodb", region_name="us-west-2")
            table = dynamodb.Table("{table}")
            for key in objects[:10]:
                body = s3.Object("{bucket}", key).get()["Body"].read()
                try:
                    table.put_item(Item=json.loads(body))
                except ClientError as error:
                    print(error.response["Error"]["Code"])
            """
        ),
        code('table.query(KeyConditionExpression=Key("user_id").eq("u-1001"))["Items"]'),
    ]


def boto3_sessions_and_clients(profile: str) -> list[Cell]:
    return [
        markdown("# Querying logs with Athena\n\nThe session comes from a named profile."),
        code(
            f"""
            import time
            import boto3
            import botocore.session

            session = boto3.Session(profile_name="{profile}", region_name="us-east-1")
            athena = session.client("athena")
            sts = botocore.session.get_session().create_client("sts")
            sts.get_caller_identity()["Account"]
            """
        ),
        code(
            """
            %%bash
            aws s3 ls s3://example-athena-results/ --recursive | tail -n 5
            """
        ),
        code(
            """
            query = athena.start_query_execution(
                QueryString="SELECT status, count(*) FROM access_logs GROUP BY status",
                ResultConfiguration={"OutputLocation": "s3://example-athena-results/"},
            )
            while athena.get_query_execution(QueryExecutionId=query["QueryExecutionId"])["QueryExecution"]["Status"]["State"] == "RUNNING":
                time.sleep(1)
            """
        ),
        code(
            """
            ec2 = boto3.client("ec2")
            ec2.describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])
            cloudwatch = boto3.client(service_name="cloudwatch")
            cloudwatch.put_metric_data(Namespace="Notebooks", MetricData=[{"MetricName": "Queries", "Value": 1}])
            """
        ),
    ]


def keras_with_s3_data(use_generator: bool) -> list[Cell]:
    """Keras training on data pulled from S3: `fit` on something that is not a SageMaker estimator."""
    if use_generator:
        training = """
            from keras.preprocessing.image import ImageDataGenerator

            datagen = ImageDataGenerator(rescale=1.0 / 255, horizontal_flip=True)
            train_flow = datagen.flow_from_directory("data/train", target_size=(64, 64), batch_size=32)
            model.fit_generator(train_flow, steps_per_epoch=100, epochs=10)
            """
    else:
        training = """
            import numpy as np

            data = np.load("data/train.npz")
            model.fit(data["x"], data["y"], epochs=10, batch_size=64, validation_split=0.1)
            """
    return [
        markdown("# Training a CNN on images stored in S3"),
        code(
            """
            import boto3
            from keras.models import Sequential
            from keras.layers import Conv2D, MaxPooling2D, Flatten, Dense
            """
        ),
        code(
            """
            s3 = boto3.client("s3")
            s3.download_file("example-image-data", "train.npz", "data/train.npz")
            """
        ),
        code(
            """
            model = Sequential([
                Conv2D(32, (3, 3), activation="relu", input_shape=(64, 64, 3)),
                MaxPooling2D((2, 2)),
                Flatten(),
                Dense(2, activation="softmax"),
            ])
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
            """
        ),
        code(training),
        code('model.save("cnn.h5")\ns3.upload_file("cnn.h5", "example-image-data", "models/cnn.h5")'),
    ]


# --- sagemaker ---------------------------------------------------------------


def sagemaker_builtin_estimator(algorithm: str, instance_type: str) -> list[Cell]:
    return [
        markdown(f"# Training the built-in {algorithm} algorithm with the SageMaker Python SDK"),
        code("!pip install -q 'sagemaker>=1.50,<2'"),
        code(
            """
            import boto3
            import sagemaker
            from sagemaker import get_execution_role
            from sagemaker.amazon.amazon_estimator import get_image_uri

            role = get_execution_role()
            session = sagemaker.Session()
            bucket = session.default_bucket()
            region = boto3.Session().region_name
            """
        ),
        code(
            f"""
            container = get_image_uri(region, "{algorithm}")
            estimator = sagemaker.estimator.Estimator(
                container,
                role,
                train_instance_count=1,
                train_instance_type="{instance_type}",
                output_path="s3://{{}}/output".format(bucket),
                sagemaker_session=session,
            )
            estimator.set_hyperparameters(num_round=100)
            """
        ),
        code(
            """
            train_input = sagemaker.s3_input("s3://{}/train".format(bucket), content_type="text/csv")
            estimator.fit({"train": train_input})
            """
        ),
        code(
            """
            predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge")
            runtime = boto3.client("sagemaker-runtime")
            response = runtime.invoke_endpoint(EndpointName=predictor.endpoint, ContentType="text/csv", Body="1,2,3")
            response["Body"].read()
            """
        ),
        code("sagemaker.Session().delete_endpoint(predictor.endpoint)"),
    ]


def sagemaker_framework_estimator(framework: str, entry_point: str) -> list[Cell]:
    """Build a notebook that trains a SageMaker SDK framework estimator (MXNet, TensorFlow or PyTorch)."""
    module, cls = {
        "mxnet": ("sagemaker.mxnet", "MXNet"),
        "tensorflow": ("sagemaker.tensorflow", "TensorFlow"),
        "pytorch": ("sagemaker.pytorch", "PyTorch"),
    }[framework]
    return [
        markdown(f"# {cls} script mode on SageMaker"),
        code(
            f"""
            import sagemaker
            from sagemaker import get_execution_role as execution_role
            from {module} import {cls}

            sagemaker_session = sagemaker.Session()
            role = execution_role()
            inputs = sagemaker_session.upload_data(path="data", key_prefix="data/{framework}")
            """
        ),
        code(f"!pygmentize {entry_point}"),
        code(
            f"""
            estimator = {cls}(
                entry_point="{entry_point}",
                role=role,
                train_instance_count=2,
                train_instance_type="ml.p3.2xlarge",
                hyperparameters={{"epochs": 10, "learning-rate": 0.01}},
            )
            estimator.fit(inputs)
            """
        ),
        code(
            """
            predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.c5.xlarge")
            predictor.predict([[0.5] * 784])
            """
        ),
    ]


def sagemaker_with_local_mxnet() -> list[Cell]:
    """SageMaker training plus a local MXNet check of the model artefact: both families."""
    cells = sagemaker_framework_estimator("mxnet", "mnist.py")
    cells.append(
        code(
            """
            import mxnet as mx

            sym, arg_params, aux_params = mx.model.load_checkpoint("model/mnist", 10)
            module = mx.mod.Module(symbol=sym, context=mx.cpu(), label_names=None)
            module.bind(for_training=False, data_shapes=[("data", (1, 784))])
            module.set_params(arg_params, aux_params)
            """
        )
    )
    return cells


def sagemaker_client_training(job_name: str, also_estimator: bool) -> list[Cell]:
    """Low-level training through the boto3 SageMaker client: `create_training_job`."""
    cells = [
        markdown("# Training with the low-level SageMaker API\n\nThe job is described as a dictionary and started with `create_training_job`."),
        code(
            """
            import time
            import boto3
            from sagemaker import get_execution_role

            role = get_execution_role()
            sm = boto3.client("sagemaker")
            """
        ),
        code(
            f"""
            job_name = "{job_name}-" + time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime())
            training_params = {{
                "AlgorithmSpecification": {{
                    "TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",
                    "TrainingInputMode": "File",
                }},
                "RoleArn": role,
                "OutputDataConfig": {{"S3OutputPath": "s3://example-sagemaker-bucket/output"}},
                "ResourceConfig": {{"InstanceCount": 1, "InstanceType": "ml.m4.xlarge", "VolumeSizeInGB": 10}},
                "TrainingJobName": job_name,
                "HyperParameters": {{"max_depth": "5", "num_round": "50"}},
                "StoppingCondition": {{"MaxRuntimeInSeconds": 3600}},
            }}
            sm.create_training_job(**training_params)
            """
        ),
        code(
            """
            %%time
            sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=job_name)
            status = sm.describe_training_job(TrainingJobName=job_name)["TrainingJobStatus"]
            print("Training job ended with status: " + status)
            """
        ),
    ]
    if also_estimator:
        cells.append(markdown("The same training with the high-level SDK, for comparison."))
        cells.append(
            code(
                """
                from sagemaker.estimator import Estimator

                estimator = Estimator(
                    training_params["AlgorithmSpecification"]["TrainingImage"],
                    role,
                    train_instance_count=1,
                    train_instance_type="ml.m4.xlarge",
                )
                estimator.fit("s3://example-sagemaker-bucket/train")
                """
            )
        )
    return cells


# --- mxnet --------------------------------------------------------------------


def mxnet_gluon_training(hidden: int) -> list[Cell]:
    return [
        markdown("# Multilayer perceptron with Gluon"),
        code(
            """
            import mxnet as mx
            from mxnet import autograd, gluon, nd
            from mxnet.gluon import nn
            """
        ),
        code(
            """
            ctx = mx.gpu() if mx.context.num_gpus() else mx.cpu()
            mnist = mx.test_utils.get_mnist()
            train_data = mx.io.NDArrayIter(mnist["train_data"], mnist["train_label"], batch_size=64, shuffle=True)
            """
        ),
        code(
            f"""
            net = nn.Sequential()
            with net.name_scope():
                net.add(nn.Dense({hidden}, activation="relu"))
                net.add(nn.Dense(10))
            net.initialize(mx.init.Xavier(magnitude=2.24), ctx=ctx)
            softmax_cross_entropy = gluon.loss.SoftmaxCrossEntropyLoss()
            trainer = gluon.Trainer(net.collect_params(), "sgd", {{"learning_rate": 0.1}})
            """
        ),
        code(
            """
            for epoch in range(5):
                train_data.reset()
                for batch in train_data:
                    data = batch.data[0].as_in_context(ctx)
                    label = batch.label[0].as_in_context(ctx)
                    with autograd.record():
                        loss = softmax_cross_entropy(net(data), label)
                    loss.backward()
                    trainer.step(data.shape[0])
                print(epoch, nd.mean(loss).asscalar())
            """
        ),
    ]


def mxnet_module_training(epochs: int) -> list[Cell]:
    """Build a notebook that trains with the symbolic Module API, whose `fit` is not a SageMaker estimator's."""
    return [
        code(
            """
            import logging
            import mxnet as mx

            logging.getLogger().setLevel(logging.INFO)
            """
        ),
        code(
            """
            data = mx.sym.var("data")
            fc1 = mx.sym.FullyConnected(data=mx.sym.flatten(data), num_hidden=128)
            act1 = mx.sym.Activation(data=fc1, act_type="relu")
            fc2 = mx.sym.FullyConnected(data=act1, num_hidden=10)
            mlp = mx.sym.SoftmaxOutput(data=fc2, name="softmax")
            """
        ),
        code(
            f"""
            mnist = mx.test_utils.get_mnist()
            train_iter = mx.io.NDArrayIter(mnist["train_data"], mnist["train_label"], 100, shuffle=True)
            mlp_model = mx.mod.Module(symbol=mlp, context=mx.cpu())
            mlp_model.fit(train_iter, optimizer="sgd", optimizer_params={{"learning_rate": 0.1}}, num_epoch={epochs})
            """
        ),
    ]


def mxnet_ndarray_basics() -> list[Cell]:
    return [
        markdown("# NDArray basics"),
        code(
            """
            from mxnet import nd
            import mxnet.ndarray as F
            """
        ),
        code(
            """
            x = nd.ones((3, 4))
            y = nd.random.normal(0, 1, shape=(3, 4))
            F.dot(x, y.T)
            """
        ),
    ]


# --- unusual inputs -----------------------------------------------------------


def r_notebook() -> list[Cell]:
    return [
        markdown("# Survival curves in R"),
        code("library(survival)\nfit <- survfit(Surv(time, status) ~ sex, data = lung)\nplot(fit)"),
    ]


def nbformat3_boto_notebook() -> str:
    return notebook_v3(
        [
            """
            import boto
            from boto.sqs.message import Message
            """,
            """
            sqs = boto.connect_sqs()
            queue = sqs.get_queue("example-jobs")
            message = Message()
            message.set_body("start")
            queue.write(message)
            """,
        ]
    )


INVALID_JSON = '{\n "cells": [\n  {\n   "cell_type": "code",\n   "source": ["import pandas as pd\\n"\n'

GIT_LFS_POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
    "size 48213\n"
)


# --- the collection -----------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One manifest row: where the file goes, which repository it claims, and its dates."""

    path: str  # under notebooks/, or a member of the zip archive
    repo: str
    first_commit_at: str
    last_commit_at: str
    content: Callable[[], str]
    in_archive: bool = False


def v4(build: Callable[..., list[Cell]], *args: Any, metadata: dict[str, Any] | None = None) -> Callable[[], str]:
    return lambda: notebook_v4(build(*args), metadata)


def raw(text: str) -> Callable[[], str]:
    return lambda: text


REPO_LAST_COMMIT_AT = {
    "example-org/data-notebooks": "2019-12-20T10:00:00Z",
    "example-org/aws-ml-notebooks": "2019-12-18T16:30:00Z",
    "example-org/legacy-ops": "2018-09-02T08:15:00Z",
}


def collection() -> list[Example]:
    """The example notebooks, in order of their first commit (January 2018 to December 2019)."""
    data = "example-org/data-notebooks"
    aws = "example-org/aws-ml-notebooks"
    ops = "example-org/legacy-ops"
    return [
        Example("eda/housing.ipynb", data, "2018-01-09T10:12:00Z", "2018-03-01T09:00:00Z", v4(pandas_exploration, "housing", "price")),
        Example("boto2/s3_listing.ipynb", ops, "2018-01-22T14:40:00Z", "2018-02-10T11:00:00Z", v4(legacy_boto_s3, "example-logs", metadata=PYTHON2_METADATA), in_archive=True),
        Example("boto2/sqs_queue.ipynb", ops, "2018-02-05T08:30:00Z", "2018-02-05T08:30:00Z", raw(nbformat3_boto_notebook()), in_archive=True),
        Example("ml/iris_random_forest.ipynb", data, "2018-02-14T16:05:00Z", "2018-04-11T10:00:00Z", v4(sklearn_classifier, "ensemble", "RandomForestClassifier", "iris")),
        Example("boto2/ec2_inventory.ipynb", ops, "2018-03-03T09:20:00Z", "2018-06-30T17:00:00Z", v4(legacy_boto_ec2, "us-east-1"), in_archive=True),
        Example("mxnet/gluon_mlp.ipynb", aws, "2018-03-19T12:00:00Z", "2018-08-01T12:00:00Z", v4(mxnet_gluon_training, 128)),
        Example("eda/titanic.ipynb", data, "2018-04-02T18:45:00Z", "2018-04-02T18:45:00Z", v4(pandas_exploration, "titanic", "age")),
        Example("stats/survival.ipynb", data, "2018-04-17T07:55:00Z", "2018-05-02T07:55:00Z", v4(r_notebook, metadata=R_METADATA), in_archive=True),
        Example("mxnet/module_mlp.ipynb", aws, "2018-05-08T13:10:00Z", "2018-05-30T13:10:00Z", v4(mxnet_module_training, 10)),
        Example("dl/keras_mnist.ipynb", data, "2018-05-21T15:30:00Z", "2018-07-12T15:30:00Z", v4(keras_local_training, 512)),
        Example("mxnet/ndarray_basics.ipynb", aws, "2018-06-11T10:00:00Z", "2018-06-11T10:00:00Z", v4(mxnet_ndarray_basics)),
        Example("boto3/s3_to_dynamodb.ipynb", aws, "2018-06-25T09:15:00Z", "2018-10-01T09:15:00Z", v4(boto3_s3_and_dynamodb, "example-events", "user-events")),
        Example("eda/wine_quality.ipynb", data, "2018-07-09T11:00:00Z", "2018-07-09T11:00:00Z", v4(pandas_exploration, "wine_quality", "alcohol")),
        Example("sagemaker/xgboost_builtin.ipynb", aws, "2018-07-24T17:20:00Z", "2019-01-15T17:20:00Z", v4(sagemaker_builtin_estimator, "xgboost", "ml.m4.xlarge")),
        Example("mxnet/gluon_wide_mlp.ipynb", aws, "2018-08-13T08:00:00Z", "2018-08-13T08:00:00Z", v4(mxnet_gluon_training, 512)),
        Example("dl/cnn_from_s3.ipynb", aws, "2018-08-28T14:00:00Z", "2018-09-14T14:00:00Z", v4(keras_with_s3_data, False)),
        Example("ml/breast_cancer_svm.ipynb", data, "2018-09-10T10:30:00Z", "2018-09-10T10:30:00Z", v4(sklearn_classifier, "svm", "SVC", "breast_cancer")),
        Example("sagemaker/low_level_training.ipynb", aws, "2018-09-26T16:45:00Z", "2018-12-03T16:45:00Z", v4(sagemaker_client_training, "xgboost-low-level", False)),
        Example("ops/ec2_inventory_v2.ipynb", ops, "2018-10-08T09:00:00Z", "2018-10-08T09:00:00Z", v4(legacy_boto_ec2, "eu-west-1")),
        Example("sagemaker/mxnet_script_mode.ipynb", aws, "2018-10-22T12:30:00Z", "2019-02-20T12:30:00Z", v4(sagemaker_with_local_mxnet)),
        Example("eda/bike_sharing.ipynb", data, "2018-11-05T13:00:00Z", "2018-11-05T13:00:00Z", v4(pandas_exploration, "bike_sharing", "count")),
        Example("boto3/athena_queries.ipynb", aws, "2018-11-19T10:10:00Z", "2019-03-01T10:10:00Z", v4(boto3_sessions_and_clients, "analytics")),
        Example("sagemaker/linear_learner.ipynb", aws, "2018-12-04T15:00:00Z", "2018-12-04T15:00:00Z", v4(sagemaker_builtin_estimator, "linear-learner", "ml.c4.xlarge")),
        Example("ml/digits_logistic.ipynb", data, "2018-12-17T09:40:00Z", "2019-01-08T09:40:00Z", v4(sklearn_classifier, "linear_model", "LogisticRegression", "digits")),
        Example("dl/cnn_augmented.ipynb", aws, "2019-01-14T11:25:00Z", "2019-01-30T11:25:00Z", v4(keras_with_s3_data, True)),
        Example("sagemaker/tensorflow_script_mode.ipynb", aws, "2019-01-28T14:50:00Z", "2019-05-06T14:50:00Z", v4(sagemaker_framework_estimator, "tensorflow", "train_tf.py")),
        Example("eda/air_quality.ipynb", data, "2019-02-11T08:20:00Z", "2019-02-11T08:20:00Z", v4(pandas_exploration, "air_quality", "pm25")),
        Example("sagemaker/low_level_and_sdk.ipynb", aws, "2019-02-25T10:00:00Z", "2019-04-09T10:00:00Z", v4(sagemaker_client_training, "compare-apis", True)),
        Example("mxnet/module_long_run.ipynb", aws, "2019-03-11T16:00:00Z", "2019-03-11T16:00:00Z", v4(mxnet_module_training, 30)),
        Example("sagemaker/pytorch_script_mode.ipynb", aws, "2019-03-25T13:35:00Z", "2019-07-02T13:35:00Z", v4(sagemaker_framework_estimator, "pytorch", "train_torch.py")),
        Example("boto3/s3_to_dynamodb_eu.ipynb", aws, "2019-04-08T09:05:00Z", "2019-04-08T09:05:00Z", v4(boto3_s3_and_dynamodb, "example-events-eu", "user-events-eu")),
        Example("ml/wine_gradient_boosting.ipynb", data, "2019-04-22T12:00:00Z", "2019-04-22T12:00:00Z", v4(sklearn_classifier, "ensemble", "GradientBoostingClassifier", "wine")),
        Example("sagemaker/xgboost_large.ipynb", aws, "2019-05-06T17:00:00Z", "2019-09-12T17:00:00Z", v4(sagemaker_builtin_estimator, "xgboost", "ml.m5.4xlarge")),
        Example("sagemaker/batch_training_jobs.ipynb", aws, "2019-05-20T08:45:00Z", "2019-05-20T08:45:00Z", v4(sagemaker_client_training, "nightly-batch", False)),
        Example("eda/retail_sales.ipynb", data, "2019-06-03T10:30:00Z", "2019-06-03T10:30:00Z", v4(pandas_exploration, "retail_sales", "revenue")),
        Example("sagemaker/mxnet_gluon_script.ipynb", aws, "2019-06-17T15:15:00Z", "2019-08-20T15:15:00Z", v4(sagemaker_framework_estimator, "mxnet", "gluon_train.py")),
        Example("boto3/athena_reporting.ipynb", aws, "2019-07-01T11:45:00Z", "2019-07-01T11:45:00Z", v4(boto3_sessions_and_clients, "reporting")),
        Example("dl/keras_mnist_small.ipynb", data, "2019-07-15T09:00:00Z", "2019-07-15T09:00:00Z", v4(keras_local_training, 64)),
        Example("sagemaker/object_detection.ipynb", aws, "2019-07-29T13:20:00Z", "2019-11-04T13:20:00Z", v4(sagemaker_builtin_estimator, "object-detection", "ml.p3.2xlarge")),
        Example("sagemaker/tuning_low_level.ipynb", aws, "2019-08-12T10:50:00Z", "2019-08-12T10:50:00Z", v4(sagemaker_client_training, "tuning-baseline", True)),
        Example("eda/flights.ipynb", data, "2019-08-26T14:10:00Z", "2019-08-26T14:10:00Z", v4(pandas_exploration, "flights", "arr_delay")),
        Example("sagemaker/factorization_machines.ipynb", aws, "2019-09-09T09:30:00Z", "2019-10-01T09:30:00Z", v4(sagemaker_builtin_estimator, "factorization-machines", "ml.c5.2xlarge")),
        Example("mxnet/gluon_deep_mlp.ipynb", aws, "2019-09-23T12:00:00Z", "2019-09-23T12:00:00Z", v4(mxnet_gluon_training, 1024)),
        Example("ml/iris_knn.ipynb", data, "2019-10-07T16:25:00Z", "2019-10-07T16:25:00Z", v4(sklearn_classifier, "neighbors", "KNeighborsClassifier", "iris")),
        Example("sagemaker/tensorflow_serving.ipynb", aws, "2019-10-21T10:05:00Z", "2019-12-18T10:05:00Z", v4(sagemaker_framework_estimator, "tensorflow", "serve_tf.py")),
        Example("sagemaker/retraining_pipeline.ipynb", aws, "2019-11-04T08:10:00Z", "2019-11-04T08:10:00Z", v4(sagemaker_client_training, "weekly-retrain", False)),
        Example("eda/energy_use.ipynb", data, "2019-11-18T11:35:00Z", "2019-11-18T11:35:00Z", v4(pandas_exploration, "energy_use", "kwh")),
        Example("ml/digits_random_forest.ipynb", data, "2019-12-05T14:30:00Z", "2019-12-05T14:30:00Z", v4(sklearn_classifier, "ensemble", "RandomForestClassifier", "digits")),
        # An identical copy of an earlier notebook, under another path: a duplicate by content hash.
        Example("archive/housing_copy.ipynb", data, "2019-12-02T09:00:00Z", "2019-12-02T09:00:00Z", v4(pandas_exploration, "housing", "price")),
        Example("broken/truncated.ipynb", data, "2019-12-09T10:00:00Z", "2019-12-09T10:00:00Z", raw(INVALID_JSON)),
        Example("broken/large_model_results.ipynb", aws, "2019-12-16T15:00:00Z", "2019-12-16T15:00:00Z", raw(GIT_LFS_POINTER)),
    ]


# --- writing ------------------------------------------------------------------


def write_collection(examples: list[Example]) -> None:
    """Write every notebook, the zip archive and the manifest, replacing old files."""
    archive_members: list[tuple[str, str]] = []
    for example in examples:
        if example.in_archive:
            archive_members.append((example.path, example.content()))
            continue
        target = NOTEBOOKS_DIR / example.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(example.content(), encoding="utf-8", newline="\n")

    ARCHIVE_PATH.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(ARCHIVE_PATH, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member, text in archive_members:
            info = zipfile.ZipInfo(member, date_time=ZIP_ENTRY_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"))

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for example in examples:
        archive_path = ARCHIVE_PATH.relative_to(EXAMPLES_DIR).as_posix()
        writer.writerow(
            {
                "notebook_path": "" if example.in_archive else f"notebooks/{example.path}",
                "archive": archive_path if example.in_archive else "",
                "member": example.path if example.in_archive else "",
                "repo": example.repo,
                "first_commit_at": example.first_commit_at,
                "last_commit_at": example.last_commit_at,
                "repo_last_commit_at": REPO_LAST_COMMIT_AT[example.repo],
            }
        )
    MANIFEST_PATH.write_text(buffer.getvalue(), encoding="utf-8", newline="\n")


def main() -> None:
    examples = collection()
    write_collection(examples)
    in_archive = sum(example.in_archive for example in examples)
    print(f"wrote {len(examples)} manifest rows: {len(examples) - in_archive} files under notebooks/, {in_archive} in {ARCHIVE_PATH.name}")


if __name__ == "__main__":
    main()
