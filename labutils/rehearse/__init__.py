"""The full-mode dress rehearsal: every lab's real path end to end on stand-in data, timed (instructors).

``python -m labutils.rehearse [--scale tiny|full] [--lab 02] [--out DIR] [--precision auto|fp32]``
builds stand-ins with the real archives' structure (and, at ``full``, their counts and image sizes)
and weight files holding random initialisations under the registry's names, then runs each
solution notebook unchanged in full mode (``LABUTILS_SMOKE=0``) through nbclient, and reports per
lab the wall time, time per phase, peak memory, disk written and every cell's time.

Modules: :mod:`.chest`, :mod:`.cifar`, :mod:`.dogs`, :mod:`.weights` (stand-ins), :mod:`.kernel`
(the only bypass, sent to the rehearsal's own kernels), :mod:`.run` (one notebook), :mod:`.monitor`
(memory and disk), :mod:`.phases` (cells to phases), :mod:`.report`, :mod:`.cli`.
Importing this package changes nothing in :mod:`labutils`.
"""
