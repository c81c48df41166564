r"""Reference optimizers, numerically equal to ``torch.optim`` (for-loop path, ``foreach=False``).

Each algorithm is written twice over: a pure per-tensor update function that reads like its
equation (the course's vocabulary; exercises ask learners to write the same functions), and a
thin ``torch.optim.Optimizer`` subclass with torch 2.13's constructor that calls it.

=============  ==============================  ==============================================
class          functional core                 algorithm
=============  ==============================  ==============================================
``SGD``        ``sgd_init``, ``sgd_update``    gradient descent / SGD, momentum
                                               (:math:`b = \mu b + (1-\tau) g`), dampening,
                                               Nesterov (:math:`d = g + \mu b`)
``Adagrad``    ``adagrad_init``,               per-coordinate steps
               ``adagrad_update``              :math:`\gamma g / (\sqrt{\sum g^2} + \epsilon)`,
                                               ``lr_decay``
``Adadelta``   ``adadelta_init``,              unit-corrected steps
               ``adadelta_update``             :math:`\sqrt{u+\epsilon}/\sqrt{v+\epsilon}\, g`
``RMSprop``    ``rmsprop_init``,               :math:`g / (\sqrt{v} + \epsilon)` with a moving
               ``rmsprop_update``              average :math:`v`; centered, momentum
``Adam``       ``adam_init``, ``adam_update``  momentum + RMSprop + bias correction; AMSGrad,
                                               ``decoupled_weight_decay``
``AdamW``      ``decoupled_weight_decay``,     :math:`\theta \leftarrow \theta(1-\gamma\lambda)`
               ``adamw_update``                then Adam
=============  ==============================  ==============================================

The shared loop (param groups, lazy state, closure) is :class:`CourseOptimizer` in ``_base.py``.
"""

from ._base import CourseOptimizer
from .adadelta import Adadelta, adadelta_init, adadelta_update
from .adagrad import Adagrad, adagrad_init, adagrad_update
from .adam import Adam, adam_init, adam_update
from .adamw import AdamW, adamw_update, decoupled_weight_decay
from .rmsprop import RMSprop, rmsprop_init, rmsprop_update
from .sgd import SGD, sgd_init, sgd_update

__all__ = [
    "CourseOptimizer",
    "SGD",
    "sgd_init",
    "sgd_update",
    "Adagrad",
    "adagrad_init",
    "adagrad_update",
    "Adadelta",
    "adadelta_init",
    "adadelta_update",
    "RMSprop",
    "rmsprop_init",
    "rmsprop_update",
    "Adam",
    "adam_init",
    "adam_update",
    "AdamW",
    "adamw_update",
    "decoupled_weight_decay",
]
