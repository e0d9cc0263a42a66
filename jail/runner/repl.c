/* The interactive prompt is CPython's own (Py_RunMain), with two things isolated mode leaves
 * out or that our rules would break: site's readline set-up (completion, history in
 * $HOME/.python_history), which site.main() skips when isolated, and help()'s pager, which
 * pydoc would look for by running `less` through os.system, refused here. */
#include <Python.h>

#include "config.h"

#include "jail/runner/runner.h"

static const char repl_setup[] =
    "def _sandbox_setup():\n"
    "    import builtins, site, sys, _sitebuiltins\n"
    "    site.enablerlcompleter()\n"
    "    class _Helper(_sitebuiltins._Helper):\n"
    "        def __call__(self, *args, **kwds):\n"
    "            import pydoc\n"
    "            tty = sys.stdin.isatty() and sys.stdout.isatty()\n"
    "            pydoc.pager = pydoc.ttypager if tty else pydoc.plainpager\n"
    "            return pydoc.help(*args, **kwds)\n"
    "    builtins.help = _Helper()\n"
    "_sandbox_setup()\n"
    "del _sandbox_setup\n";

int runner_repl_prepare(void)
{
	return PyRun_SimpleString(repl_setup) == 0 ? 0 : -EINVAL;
}
