/* The compiled model stage: a feature mapping in, (score, calibrated, ecdf) out, in one call and no allocation.
 *
 * Built on first use by models/native.py (the system C compiler, cached by a hash of this file and the Python
 * ABI); the trees come from LightGBM's own model text (models/forest.py flattens it). Every step mirrors the Python
 * it replaces, so the two give the same numbers:
 *   - encoding and imputation: Scorer.vector (codes per kept level, "other" for the rest, NaN for a missing
 *     category, the fill value for a missing or NaN number);
 *   - trees: LightGBM 4's Tree::GetLeaf, NumericalDecision and CategoricalDecision (include/LightGBM/tree.h), on
 *     the row LightGBM's C API would build (|x| <= kZeroThreshold read as 0), leaf values summed in tree order,
 *     then the binary objective's sigmoid;
 *   - calibration and ECDF: models/learners/calibration.scalar_calibrator and ecdf.scalar_ecdf, including
 *     Python's min/max and bisect_right semantics.
 * No -ffast-math: every operation is the IEEE one the reference performs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ZERO_THRESHOLD ((double)1e-35f) /* LightGBM's kZeroThreshold, a float literal widened to double */
#define CATEGORICAL_MASK 1
#define DEFAULT_LEFT_MASK 2
#define MISSING_ZERO 1
#define MISSING_NAN 2
#define MAX_FEATURES 1024 /* rows live on the C stack (8 kB each): safe on small thread stacks too */

typedef struct {
    double threshold;
    int32_t feature, left, right; /* children: >= 0 a node, < 0 the leaf ~child (global indices) */
    int32_t cat_start, cat_len;   /* categorical splits: the bitset's words in cat_bits */
    int8_t decision;              /* LightGBM's decision_type: categorical bit, default-left bit, missing type */
} Node;

/* The walk's node: internal nodes first, then one per leaf that points to itself, so that a tree can be stepped
 * a fixed number of times (its depth) with no test for having arrived. 24 bytes. */
typedef struct {
    double threshold;
    int32_t feature;
    int32_t child[2]; /* left, right: indexed by the comparison, so the step has no branch to mispredict */
    int8_t decision;
} Step;

#define SLOW_MASK (CATEGORICAL_MASK | (3 << 2)) /* categorical, or a numeric split with a missing type */
#define LANES 4                                  /* trees walked side by side: their loads and compares overlap */

struct Shap;

typedef struct {
    PyObject_HEAD
    Py_ssize_t nfeat;
    PyObject *names; /* tuple of str, booster column order */
    PyObject *codes; /* tuple: a dict level -> float code (categorical) or None (numeric), per feature */
    double *fills;   /* numeric: the imputation value; categorical: the code of "other" */
    Py_ssize_t ntrees, nnodes, nleaves, nbits;
    int32_t *roots;
    Node *nodes;
    double *leaves;
    Step *walk;     /* nnodes + nleaves steps: the nodes, then the leaves as self-loops */
    double *value;  /* per step: the leaf value (0 for internal nodes) */
    int32_t *depth; /* per tree: the longest root-to-leaf path, in splits */
    uint32_t *cat_bits;
    double sigmoid;
    int platt;          /* 0: isotonic breakpoints, 1: Platt */
    double *cal_x, *cal_y;
    Py_ssize_t ncal;
    double platt_a, platt_b, platt_eps, platt_clip;
    double *quantiles;
    Py_ssize_t nq;
    PyObject *error;  /* raised for a value of the wrong type (models.errors.ScoringError) */
    PyObject *result; /* called with (score, calibrated, ecdf): models.schema.Score */
    PyObject *index;  /* name -> feature index */
    /* The key layout of the last dict row (feature vectors keep one insertion order): strong references to its
     * keys in order, the feature each holds (-1: not a feature), and the features it lacked. A row with the same
     * keys, compared by identity, is read in one pass over its entries instead of one lookup per feature. */
    /* reasons (TreeSHAP), built by enable_reasons: see the section "reasons" */
    struct Shap *shap;
    PyObject **layout_keys;
    int32_t *layout_feature, *layout_absent;
    Py_ssize_t layout_n, layout_nabsent;
    unsigned misses;
} Forest;

/* ---- construction ------------------------------------------------------------------------------------------- */

static void *copy_buffer(Py_buffer *b, Py_ssize_t itemsize, Py_ssize_t *count, const char *what) {
    if (b->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is not a whole number of %zd-byte items", what, b->len, itemsize);
        return NULL;
    }
    *count = b->len / itemsize;
    void *out = PyMem_Malloc(b->len > 0 ? (size_t)b->len : 1);
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    if (b->len > 0) memcpy(out, b->buf, (size_t)b->len);
    return out;
}

static void free_shap(struct Shap *s);

static void forget_layout(Forest *f) {
    for (Py_ssize_t i = 0; i < f->layout_n; i++) Py_DECREF(f->layout_keys[i]);
    PyMem_Free(f->layout_keys);
    PyMem_Free(f->layout_feature);
    PyMem_Free(f->layout_absent);
    f->layout_keys = NULL;
    f->layout_feature = f->layout_absent = NULL;
    f->layout_n = f->layout_nabsent = 0;
}

static void Forest_dealloc(Forest *f) {
    Py_XDECREF(f->names);
    Py_XDECREF(f->codes);
    Py_XDECREF(f->error);
    Py_XDECREF(f->result);
    Py_XDECREF(f->index);
    forget_layout(f);
    PyMem_Free(f->fills);
    PyMem_Free(f->roots);
    PyMem_Free(f->nodes);
    PyMem_Free(f->leaves);
    PyMem_Free(f->walk);
    PyMem_Free(f->value);
    PyMem_Free(f->depth);
    free_shap(f->shap);
    PyMem_Free(f->cat_bits);
    PyMem_Free(f->cal_x);
    PyMem_Free(f->cal_y);
    PyMem_Free(f->quantiles);
    Py_TYPE(f)->tp_free((PyObject *)f);
}

/* Every index the walk follows is checked here once, so a malformed table can raise but never read out of bounds. */
static int check_tables(Forest *f) {
    for (Py_ssize_t t = 0; t < f->ntrees; t++) {
        int32_t r = f->roots[t];
        if (r >= f->nnodes || (r < 0 && ~r >= f->nleaves)) {
            PyErr_Format(PyExc_ValueError, "tree %zd: root %d out of range", t, r);
            return -1;
        }
    }
    for (Py_ssize_t n = 0; n < f->nnodes; n++) {
        Node *nd = &f->nodes[n];
        int32_t kids[2] = {nd->left, nd->right};
        for (int k = 0; k < 2; k++) {
            /* children come after their parent, so every walk ends at a leaf */
            if ((kids[k] >= 0 && (kids[k] <= n || kids[k] >= f->nnodes)) || (kids[k] < 0 && ~kids[k] >= f->nleaves)) {
                PyErr_Format(PyExc_ValueError, "node %zd: child %d out of range", n, kids[k]);
                return -1;
            }
        }
        if (nd->feature < 0 || nd->feature >= f->nfeat) {
            PyErr_Format(PyExc_ValueError, "node %zd: feature %d out of range", n, nd->feature);
            return -1;
        }
        if ((nd->decision & CATEGORICAL_MASK) &&
            (nd->cat_start < 0 || nd->cat_len < 0 || (Py_ssize_t)nd->cat_start + nd->cat_len > f->nbits)) {
            PyErr_Format(PyExc_ValueError, "node %zd: categorical bitset out of range", n);
            return -1;
        }
    }
    return 0;
}

static inline int32_t walk_index(const Forest *f, int32_t child) { return child >= 0 ? child : (int32_t)f->nnodes + ~child; }

/* The step table and each tree's depth (a forward pass: a parent always comes before its children). */
static int build_walk(Forest *f) {
    Py_ssize_t total = f->nnodes + f->nleaves;
    int32_t *tree_of = PyMem_Malloc(sizeof(int32_t) * (size_t)(total > 0 ? total : 1));
    int32_t *level = PyMem_Calloc((size_t)(total > 0 ? total : 1), sizeof(int32_t));
    f->walk = PyMem_Malloc(sizeof(Step) * (size_t)(total > 0 ? total : 1));
    f->value = PyMem_Calloc((size_t)(total > 0 ? total : 1), sizeof(double));
    f->depth = PyMem_Calloc((size_t)(f->ntrees > 0 ? f->ntrees : 1), sizeof(int32_t));
    if (!tree_of || !level || !f->walk || !f->value || !f->depth) {
        PyMem_Free(tree_of);
        PyMem_Free(level);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < total; i++) tree_of[i] = -1;
    for (Py_ssize_t n = 0; n < f->nnodes; n++) {
        const Node *nd = &f->nodes[n];
        f->walk[n] = (Step){nd->threshold, nd->feature, {walk_index(f, nd->left), walk_index(f, nd->right)}, nd->decision};
    }
    for (Py_ssize_t l = 0; l < f->nleaves; l++) {
        int32_t self = (int32_t)(f->nnodes + l);
        f->walk[self] = (Step){0.0, 0, {self, self}, 0};
        f->value[self] = f->leaves[l];
    }
    for (Py_ssize_t t = 0; t < f->ntrees; t++) {
        int32_t r = walk_index(f, f->roots[t]);
        f->roots[t] = r;
        tree_of[r] = (int32_t)t;
    }
    for (Py_ssize_t n = 0; n < f->nnodes; n++) {
        int32_t t = tree_of[n];
        if (t < 0) continue; /* not reachable from a root */
        const int32_t *kids = f->walk[n].child;
        for (int k = 0; k < 2; k++) {
            tree_of[kids[k]] = t;
            level[kids[k]] = level[n] + 1;
            if (level[kids[k]] > f->depth[t]) f->depth[t] = level[kids[k]];
        }
    }
    PyMem_Free(tree_of);
    PyMem_Free(level);
    return 0;
}

static int Forest_init(Forest *f, PyObject *args, PyObject *kwds) {
    if (kwds != NULL && PyDict_GET_SIZE(kwds) > 0) {
        PyErr_SetString(PyExc_TypeError, "Forest takes positional arguments only");
        return -1;
    }
    PyObject *names, *codes, *error, *result;
    Py_buffer fills, roots, features, thresholds, lefts, rights, decisions, cat_starts, cat_lens, leaves, bits, cal_x,
        cal_y, quantiles;
    int platt;
    double sigmoid, a, b, eps, clip;
    if (!PyArg_ParseTuple(args, "O!O!y*y*y*y*y*y*y*y*y*y*y*dpy*y*ddddy*OO:Forest", &PyTuple_Type, &names, &PyTuple_Type,
                          &codes, &fills, &roots, &features, &thresholds, &lefts, &rights, &decisions, &cat_starts,
                          &cat_lens, &leaves, &bits, &sigmoid, &platt, &cal_x, &cal_y, &a, &b, &eps, &clip, &quantiles,
                          &error, &result))
        return -1;
    Py_buffer *all[] = {&fills, &roots, &features, &thresholds, &lefts, &rights, &decisions,
                        &cat_starts, &cat_lens, &leaves, &bits, &cal_x, &cal_y, &quantiles};
    int rc = -1;
    Py_ssize_t n, nt, nf, nl, nr, nd, ns, ncy;
    int32_t *feat = NULL, *left = NULL, *right = NULL, *cs = NULL, *cl = NULL;
    double *thr = NULL;
    int8_t *dec = NULL;

    if (f->names != NULL || f->index != NULL || f->fills != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Forest is already initialised");
        goto done;
    }
    f->nfeat = PyTuple_GET_SIZE(names);
    if (f->nfeat == 0 || f->nfeat > MAX_FEATURES || PyTuple_GET_SIZE(codes) != f->nfeat) {
        PyErr_SetString(PyExc_ValueError, "names and codes must be tuples of the same length, 1 to 1024");
        goto done;
    }
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        PyObject *c = PyTuple_GET_ITEM(codes, j);
        if (!PyUnicode_Check(PyTuple_GET_ITEM(names, j)) || (c != Py_None && !PyDict_CheckExact(c))) {
            PyErr_Format(PyExc_TypeError, "feature %zd: expected a str name and a dict of codes or None", j);
            goto done;
        }
        if (c != Py_None) {
            PyObject *k, *v;
            Py_ssize_t pos = 0;
            while (PyDict_Next(c, &pos, &k, &v)) {
                if (!PyFloat_CheckExact(v)) {
                    PyErr_Format(PyExc_TypeError, "feature %zd: codes must be floats", j);
                    goto done;
                }
            }
        }
    }
    if (!(f->fills = copy_buffer(&fills, sizeof(double), &n, "fills"))) goto done;
    if (n != f->nfeat) {
        PyErr_SetString(PyExc_ValueError, "fills: one per feature");
        goto done;
    }
    if (!(f->roots = copy_buffer(&roots, sizeof(int32_t), &f->ntrees, "roots"))) goto done;
    if (!(feat = copy_buffer(&features, sizeof(int32_t), &f->nnodes, "features"))) goto done;
    if (!(thr = copy_buffer(&thresholds, sizeof(double), &nt, "thresholds"))) goto done;
    if (!(left = copy_buffer(&lefts, sizeof(int32_t), &nl, "lefts"))) goto done;
    if (!(right = copy_buffer(&rights, sizeof(int32_t), &nr, "rights"))) goto done;
    if (!(dec = copy_buffer(&decisions, 1, &nd, "decisions"))) goto done;
    if (!(cs = copy_buffer(&cat_starts, sizeof(int32_t), &ns, "cat_starts"))) goto done;
    if (!(cl = copy_buffer(&cat_lens, sizeof(int32_t), &nf, "cat_lens"))) goto done;
    if (nt != f->nnodes || nl != f->nnodes || nr != f->nnodes || nd != f->nnodes || ns != f->nnodes ||
        nf != f->nnodes) {
        PyErr_SetString(PyExc_ValueError, "node tables must have the same length");
        goto done;
    }
    if (!(f->leaves = copy_buffer(&leaves, sizeof(double), &f->nleaves, "leaves"))) goto done;
    if (!(f->cat_bits = copy_buffer(&bits, sizeof(uint32_t), &f->nbits, "cat_bits"))) goto done;
    if (!(f->cal_x = copy_buffer(&cal_x, sizeof(double), &f->ncal, "cal_x"))) goto done;
    if (!(f->cal_y = copy_buffer(&cal_y, sizeof(double), &ncy, "cal_y"))) goto done;
    if (!(f->quantiles = copy_buffer(&quantiles, sizeof(double), &f->nq, "quantiles"))) goto done;
    if ((!platt && (f->ncal == 0 || ncy != f->ncal)) || f->nq < 2) {
        PyErr_SetString(PyExc_ValueError, "calibration needs as many y as x (at least one), the ECDF two quantiles");
        goto done;
    }
    f->nodes = PyMem_Malloc(sizeof(Node) * (size_t)(f->nnodes > 0 ? f->nnodes : 1));
    if (f->nodes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < f->nnodes; i++) {
        f->nodes[i] = (Node){thr[i], feat[i], left[i], right[i], cs[i], cl[i], dec[i]};
    }
    if (check_tables(f) < 0) goto done;
    if (build_walk(f) < 0) goto done;
    f->sigmoid = sigmoid;
    f->platt = platt;
    f->platt_a = a;
    f->platt_b = b;
    f->platt_eps = eps;
    f->platt_clip = clip;
    if (!(f->index = PyDict_New())) goto done;
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        PyObject *jj = PyLong_FromSsize_t(j);
        if (jj == NULL || PyDict_SetItem(f->index, PyTuple_GET_ITEM(names, j), jj) < 0) {
            Py_XDECREF(jj);
            goto done;
        }
        Py_DECREF(jj);
    }
    if (!PyCallable_Check(result)) {
        PyErr_SetString(PyExc_TypeError, "result must be callable with (score, calibrated, ecdf)");
        goto done;
    }
    /* private copies of the code dicts: every value was checked to be a float, and must stay one */
    PyObject *own = PyTuple_New(f->nfeat);
    if (own == NULL) goto done;
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        PyObject *c = PyTuple_GET_ITEM(codes, j);
        PyObject *copy = c == Py_None ? Py_NewRef(Py_None) : PyDict_Copy(c);
        if (copy == NULL) {
            Py_DECREF(own);
            goto done;
        }
        PyTuple_SET_ITEM(own, j, copy);
    }
    Py_INCREF(names);
    Py_INCREF(error);
    Py_INCREF(result);
    f->names = names;
    f->codes = own;
    f->error = error;
    f->result = result;
    rc = 0;
done:
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) PyBuffer_Release(all[i]);
    PyMem_Free(feat);
    PyMem_Free(thr);
    PyMem_Free(left);
    PyMem_Free(right);
    PyMem_Free(dec);
    PyMem_Free(cs);
    PyMem_Free(cl);
    return rc;
}

/* ---- encoding: Scorer.vector --------------------------------------------------------------------------------- */

static int wrong_type(Forest *f, Py_ssize_t j, PyObject *v, const char *expects) {
    PyObject *tname = PyType_GetName(Py_TYPE(v));
    if (tname != NULL) {
        const char *kind = PyTuple_GET_ITEM(f->codes, j) != Py_None ? "categorical" : "numeric";
        PyErr_Format(f->error, "%s feature %R expects %s, got %U", kind, PyTuple_GET_ITEM(f->names, j), expects, tname);
        Py_DECREF(tname);
    }
    return -1;
}

static int encode_one(Forest *f, Py_ssize_t j, PyObject *v, double *out) {
    PyObject *codes = PyTuple_GET_ITEM(f->codes, j);
    if (codes != Py_None) {
        if (v == NULL || v == Py_None) {
            *out = NAN; /* LightGBM's missing category */
            return 0;
        }
        if (!PyUnicode_Check(v)) return wrong_type(f, j, v, "a str");
        PyObject *code = PyDict_GetItemWithError(codes, v);
        if (code == NULL) {
            if (PyErr_Occurred()) return -1;
            *out = f->fills[j]; /* truncated or unseen level: "other" */
        } else {
            *out = PyFloat_AS_DOUBLE(code);
        }
        return 0;
    }
    double d;
    if (v == NULL || v == Py_None) {
        d = NAN;
    } else if (PyFloat_CheckExact(v)) {
        d = PyFloat_AS_DOUBLE(v);
    } else if (PyLong_Check(v)) { /* int and bool, without the float object PyFloat_AsDouble would make */
        d = PyLong_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return wrong_type(f, j, v, "an int, float or bool");
        }
    } else if (PyUnicode_Check(v) || PyBytes_Check(v) || PyByteArray_Check(v)) {
        return wrong_type(f, j, v, "an int, float or bool");
    } else {
        d = PyFloat_AsDouble(v); /* int, bool, numpy scalars: what ctypes' c_double accepts */
        if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return wrong_type(f, j, v, "an int, float or bool");
        }
    }
    *out = isnan(d) ? f->fills[j] : d; /* a missing or NaN number takes the imputation value */
    return 0;
}

static int encode_by_name(Forest *f, PyObject *row, double *x) {
    int exact = PyDict_CheckExact(row);
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        PyObject *name = PyTuple_GET_ITEM(f->names, j);
        PyObject *owned = NULL, *v;
        if (exact) {
            v = PyDict_GetItemWithError(row, name);
            if (v == NULL && PyErr_Occurred()) return -1;
        } else { /* any Mapping: row.get(name) */
            owned = PyObject_GetItem(row, name);
            if (owned == NULL) {
                if (!PyErr_ExceptionMatches(PyExc_KeyError)) return -1;
                PyErr_Clear();
            }
            v = owned;
        }
        int rc = encode_one(f, j, v, &x[j]);
        Py_XDECREF(owned);
        if (rc < 0) return -1;
    }
    return 0;
}

/* 1 when the row's keys are not the remembered layout; otherwise encodes (features in column order, as by name). */
static int encode_by_layout(Forest *f, PyObject *row, double *x) {
    if (f->layout_keys == NULL || PyDict_GET_SIZE(row) != f->layout_n) return 1;
    PyObject *vals[MAX_FEATURES];
    PyObject *k, *v;
    Py_ssize_t pos = 0, i = 0;
    while (PyDict_Next(row, &pos, &k, &v)) { /* runs no Python code: the borrowed values stay valid */
        if (i >= f->layout_n || k != f->layout_keys[i]) return 1;
        int32_t j = f->layout_feature[i++];
        if (j >= 0) vals[j] = v;
    }
    for (Py_ssize_t a = 0; a < f->layout_nabsent; a++) vals[f->layout_absent[a]] = NULL;
    for (Py_ssize_t j = 0; j < f->nfeat; j++) Py_XINCREF(vals[j]); /* encoding may run __float__, which may edit */
    int rc = 0;
    for (Py_ssize_t j = 0; j < f->nfeat && rc == 0; j++) rc = encode_one(f, j, vals[j], &x[j]);
    for (Py_ssize_t j = 0; j < f->nfeat; j++) Py_XDECREF(vals[j]);
    return rc;
}

/* Remember the row's key layout (only rows whose keys are all exact str: looking them up runs no Python code). */
static int learn_layout(Forest *f, PyObject *row) {
    Py_ssize_t n = PyDict_GET_SIZE(row);
    forget_layout(f);
    if (n > 4 * MAX_FEATURES) return 0;
    PyObject **keys = PyMem_Malloc(sizeof(PyObject *) * (size_t)(n > 0 ? n : 1));
    int32_t *feature = PyMem_Malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    int32_t *absent = PyMem_Malloc(sizeof(int32_t) * (size_t)f->nfeat);
    char seen[MAX_FEATURES] = {0};
    if (!keys || !feature || !absent) {
        PyMem_Free(keys);
        PyMem_Free(feature);
        PyMem_Free(absent);
        PyErr_NoMemory();
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0, i = 0, nabsent = 0;
    while (PyDict_Next(row, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) break;
        PyObject *j = PyDict_GetItemWithError(f->index, k);
        if (j == NULL && PyErr_Occurred()) break;
        feature[i] = j == NULL ? -1 : (int32_t)PyLong_AsSsize_t(j);
        if (feature[i] >= 0) seen[feature[i]] = 1;
        Py_INCREF(k);
        keys[i++] = k;
    }
    if (i != n) { /* a key that is not a plain str: keep reading such rows by name */
        PyErr_Clear();
        for (Py_ssize_t q = 0; q < i; q++) Py_DECREF(keys[q]);
        PyMem_Free(keys);
        PyMem_Free(feature);
        PyMem_Free(absent);
        return 0;
    }
    for (Py_ssize_t j = 0; j < f->nfeat; j++)
        if (!seen[j]) absent[nabsent++] = (int32_t)j;
    f->layout_keys = keys;
    f->layout_feature = feature;
    f->layout_absent = absent;
    f->layout_n = n;
    f->layout_nabsent = nabsent;
    return 0;
}

static int encode(Forest *f, PyObject *row, double *x) {
    if (!PyDict_CheckExact(row)) return encode_by_name(f, row, x);
    int rc = encode_by_layout(f, row, x);
    if (rc != 1) {
        f->misses = 0;
        return rc;
    }
    if (encode_by_name(f, row, x) < 0) return -1;
    /* a new layout: learn it, but when layouts keep changing only now and then (never worse than by name) */
    f->misses++;
    if (f->misses <= 16 || (f->misses & 255) == 0) return learn_layout(f, row);
    return 0;
}

/* ---- trees: LightGBM's Tree::GetLeaf ------------------------------------------------------------------------- */

static inline int32_t numerical(const Node *nd, double v) {
    int8_t missing = (nd->decision >> 2) & 3;
    if (isnan(v) && missing != MISSING_NAN) v = 0.0;
    if ((missing == MISSING_ZERO && v >= -ZERO_THRESHOLD && v <= ZERO_THRESHOLD) ||
        (missing == MISSING_NAN && isnan(v)))
        return (nd->decision & DEFAULT_LEFT_MASK) ? nd->left : nd->right;
    return v <= nd->threshold ? nd->left : nd->right;
}

static inline int32_t categorical(const Forest *f, const Node *nd, double v) {
    /* LightGBM casts to int first; on x86-64 NaN and anything outside int's range become INT_MIN, which is < 0
     * and goes right. Written out here so that the C behaviour is defined and the same on every machine. */
    if (isnan(v) || v <= -1.0 || v >= 2147483648.0) return nd->right;
    int32_t c = (int32_t)v;
    int32_t word = c / 32;
    if (word >= nd->cat_len) return nd->right;
    return (f->cat_bits[nd->cat_start + word] >> (c % 32)) & 1 ? nd->left : nd->right;
}

static inline int32_t slow_step(const Forest *f, int32_t n, double v) {
    const Node *nd = &f->nodes[n]; /* internal nodes keep their index in the walk */
    if (nd->decision & CATEGORICAL_MASK) return walk_index(f, categorical(f, nd, v));
    return walk_index(f, numerical(nd, v));
}

/* One step down a tree. The common split (numeric, no missing type) reads the row with NaN as 0, as LightGBM does
 * for it, and compiles to a conditional move; the others take LightGBM's full decision on the row as given. */
static inline int32_t step(const Forest *f, int32_t n, const double *x, const double *x0) {
    const Step *s = &f->walk[n];
    if (__builtin_expect(s->decision & SLOW_MASK, 0)) return slow_step(f, n, x[s->feature]);
    return s->child[!(x0[s->feature] <= s->threshold)];
}

static double raw_score(const Forest *f, const double *x, const double *x0) {
    double sum = 0.0; /* leaf values added in tree order, as GBDT::PredictRaw does */
    Py_ssize_t t = 0;
    for (; t + LANES <= f->ntrees; t += LANES) {
        int32_t n[LANES], steps = 0;
        for (int k = 0; k < LANES; k++) {
            n[k] = f->roots[t + k];
            if (f->depth[t + k] > steps) steps = f->depth[t + k];
        }
        const int32_t first_leaf = (int32_t)f->nnodes;
        for (int32_t s = 0; s < steps; s++) {
#pragma GCC unroll 4
            for (int k = 0; k < LANES; k++) n[k] = step(f, n[k], x, x0);
            /* deep, uneven trees: stop when this row has reached a leaf in all four, not at the deepest leaf */
            if ((n[0] >= first_leaf) & (n[1] >= first_leaf) & (n[2] >= first_leaf) & (n[3] >= first_leaf)) break;
        }
        for (int k = 0; k < LANES; k++) sum += f->value[n[k]];
    }
    for (; t < f->ntrees; t++) {
        int32_t n = f->roots[t];
        for (int32_t s = 0; s < f->depth[t]; s++) n = step(f, n, x, x0);
        sum += f->value[n];
    }
    return sum;
}

/* A value as LightGBM's C API hands it to the trees: |x| <= kZeroThreshold is dropped, so reads as 0. */
static inline double as_lightgbm_reads(double v) { return (v >= -ZERO_THRESHOLD && v <= ZERO_THRESHOLD) ? 0.0 : v; }

static double probability(const Forest *f, const double *encoded) {
    double x[MAX_FEATURES], x0[MAX_FEATURES];
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        x[j] = as_lightgbm_reads(encoded[j]);
        x0[j] = isnan(x[j]) ? 0.0 : x[j];
    }
    return 1.0 / (1.0 + exp(-f->sigmoid * raw_score(f, x, x0)));
}

/* ---- calibration and ECDF: scalar_calibrator, scalar_ecdf ---------------------------------------------------- */

static inline double py_max(double a, double b) { return b > a ? b : a; } /* Python's max(a, b) */
static inline double py_min(double a, double b) { return b < a ? b : a; } /* Python's min(a, b) */

static Py_ssize_t bisect_right(const double *a, Py_ssize_t n, double x) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (x < a[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static double calibrate(const Forest *f, double s) {
    if (f->platt) {
        double q = py_min(py_max(s, f->platt_eps), 1 - f->platt_eps);
        double t = py_min(py_max(f->platt_a * log(q / (1 - q)) + f->platt_b, -f->platt_clip), f->platt_clip);
        return 1 / (1 + exp(-t));
    }
    const double *xs = f->cal_x, *ys = f->cal_y;
    Py_ssize_t last = f->ncal - 1;
    if (s <= xs[0]) return ys[0];
    if (s >= xs[last]) return ys[last];
    Py_ssize_t k = bisect_right(xs, f->ncal, s);
    double x0 = xs[k - 1], x1 = xs[k], y0 = ys[k - 1], y1 = ys[k];
    return y0 + py_min(py_max((s - x0) / (x1 - x0), 0.0), 1.0) * (y1 - y0);
}

static double ecdf(const Forest *f, double s) {
    const double *q = f->quantiles;
    Py_ssize_t n = f->nq;
    Py_ssize_t k = bisect_right(q, n, s);
    if (k == 0) return 0.0;
    if (k >= n) return 1.0;
    double q0 = q[k - 1], q1 = q[k];
    double frac = q1 > q0 ? (s - q0) / (q1 - q0) : 0.0;
    return (double)(k - 1) / (double)(n - 1) + (1.0 / (double)(n - 1)) * py_min(py_max(frac, 0.0), 1.0);
}

/* ---- methods ------------------------------------------------------------------------------------------------- */

static PyObject *Forest_score(Forest *f, PyObject *row) {
    double x[MAX_FEATURES];
    if (encode(f, row, x) < 0) return NULL;
    double p = probability(f, x);
    PyObject *args[3] = {PyFloat_FromDouble(p), PyFloat_FromDouble(calibrate(f, p)), PyFloat_FromDouble(ecdf(f, p))};
    PyObject *out = NULL;
    if (args[0] && args[1] && args[2]) out = PyObject_Vectorcall(f->result, args, 3, NULL);
    for (int i = 0; i < 3; i++) Py_XDECREF(args[i]);
    return out;
}

/* A buffer holding exactly one row (nfeat float64); anything else is refused before the walk reads it. */
static int row_buffer(Forest *f, PyObject *obj, Py_buffer *view, int flags) {
    if (PyObject_GetBuffer(obj, view, flags | PyBUF_C_CONTIGUOUS) < 0) return -1;
    if (view->len != f->nfeat * (Py_ssize_t)sizeof(double)) {
        PyErr_Format(PyExc_ValueError, "expected a buffer of %zd float64, got %zd bytes", f->nfeat, view->len);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *Forest_encode(Forest *f, PyObject *args) {
    PyObject *row, *out;
    if (!PyArg_ParseTuple(args, "OO:encode", &row, &out)) return NULL;
    Py_buffer view;
    if (row_buffer(f, out, &view, PyBUF_WRITABLE) < 0) return NULL;
    double x[MAX_FEATURES];
    int rc = encode(f, row, x);
    if (rc == 0) memcpy(view.buf, x, sizeof(double) * (size_t)f->nfeat);
    PyBuffer_Release(&view);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *Forest_predict(Forest *f, PyObject *obj) {
    Py_buffer view;
    if (row_buffer(f, obj, &view, PyBUF_SIMPLE) < 0) return NULL;
    double p = probability(f, (const double *)view.buf);
    PyBuffer_Release(&view);
    return PyFloat_FromDouble(p);
}


/* ---- reasons: TreeSHAP contributions, leaf by leaf ---------------------------------------------------------------
 *
 * LightGBM's pred_contrib is path-dependent TreeSHAP (Lundberg et al., arXiv:1706.06060), computed by extending and
 * unwinding a path through a recursion over every node. The same values follow in closed form per leaf. For a leaf
 * with value v whose path splits on the distinct features P (p of them), let z_j be the product of the cover ratios
 * of j's splits on the path (the "zero fractions") and R the features whose every split on the path the row
 * follows. By linearity and the null-player property, the leaf adds to feature i in P
 *     i in R:      v (1 - z_i) Z(R) G(R \ {i})
 *     i not in R: -v Z(R) G(R)
 * with Z(R) = prod_{j in P \ R} z_j and G(T) = sum_k w(k, p) c_T[k], where c_T are the coefficients of
 * prod_{j in T} (x + z_j) and w(k, p) = k! (p - k - 1)! / p! the Shapley weights. Per row and leaf: the path's
 * distinct features, their z_j (both fixed per model, built here), R from one decision per node of the tree, c_R in
 * O(p^2) and each G(R \ {i}) by dividing c_R by (x + z_i), as LightGBM's UnwoundPathSum does. No recursion, no
 * per-tree allocation, and no tables: the inputs of a leaf are a few dozen bytes, so it stays fast when the caches
 * are cold (precomputed 2^p tables, tried first, were 2x slower then). The expected value (the last output) is
 * LightGBM's ExpectedValue summed over the trees. Paths longer than the `max_depth` given to enable_reasons
 * (at most SHAP_MAX_DEPTH) leave the reasons to LightGBM's C API.
 */
#define SHAP_MAX_DEPTH 64
#define SHAP_MAX_P 63 /* distinct features on one path: R is a 64-bit mask */

typedef struct {
    int32_t path_start, path_len; /* into path_node / path_left / path_pos */
    int32_t uf_start, p;          /* into uf_feature / uf_zero: the path's distinct features, in first-split order */
    double value;
} ShapLeaf;

struct Shap {
    ShapLeaf *leaf;
    Py_ssize_t nleaf, npath, nuf;
    int32_t *tree_leaf, *tree_lo, *tree_hi; /* per tree: its leaves (tree_leaf[t] .. tree_leaf[t+1]), its nodes */
    double *bias;                           /* per tree: LightGBM's ExpectedValue */
    int32_t *path_node;
    int8_t *path_left, *path_pos;
    int32_t *uf_feature;
    double *uf_zero;
    int8_t *goes_left;                                    /* scratch per node: calls hold the GIL throughout */
    double weights[(SHAP_MAX_P + 1) * (SHAP_MAX_P + 1)]; /* w(k, p), row p */
};

static void free_shap(struct Shap *s) {
    if (s == NULL) return;
    PyMem_Free(s->leaf);
    PyMem_Free(s->tree_leaf);
    PyMem_Free(s->tree_lo);
    PyMem_Free(s->tree_hi);
    PyMem_Free(s->bias);
    PyMem_Free(s->path_node);
    PyMem_Free(s->path_left);
    PyMem_Free(s->path_pos);
    PyMem_Free(s->uf_feature);
    PyMem_Free(s->uf_zero);
    PyMem_Free(s->goes_left);
    PyMem_Free(s);
}

typedef struct {
    const Forest *f;
    struct Shap *s;
    const double *internal, *leafc; /* training counts per node and per leaf */
    int max_depth;
    int32_t node[SHAP_MAX_DEPTH];
    int8_t left[SHAP_MAX_DEPTH];
    Py_ssize_t cap_leaf, cap_path, cap_uf;
    int32_t lo, hi, leaf_lo, leaf_hi; /* the tree's internal nodes and leaves, as walk index ranges */
} ShapBuild;

static double count_of(const ShapBuild *b, int32_t n) {
    return n < b->f->nnodes ? b->internal[n] : b->leafc[n - b->f->nnodes];
}

/* grow `count` parallel arrays (entries of sizes[i] bytes) so that each holds `need` entries */
static int grow(Py_ssize_t *cap, Py_ssize_t need, void **arrays[], const size_t sizes[], int count) {
    if (need <= *cap) return 0;
    Py_ssize_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    for (int i = 0; i < count; i++) {
        void *p = PyMem_Realloc(*arrays[i], (size_t)c * sizes[i]);
        if (p == NULL) return -1;
        *arrays[i] = p;
    }
    *cap = c;
    return 0;
}

/* 1: done; 0: a path the caller's limits refuse (fall back); -1: out of memory */
static int shap_leaf(ShapBuild *b, int32_t leaf_walk, int depth) {
    struct Shap *s = b->s;
    const Forest *f = b->f;
    int32_t feats[SHAP_MAX_DEPTH];
    double zero[SHAP_MAX_DEPTH];
    int8_t pos[SHAP_MAX_DEPTH];
    int p = 0;
    for (int k = 0; k < depth; k++) {
        int32_t n = b->node[k];
        int32_t feature = f->walk[n].feature;
        int j = 0;
        while (j < p && feats[j] != feature) j++;
        if (j == p) {
            if (p == SHAP_MAX_P) return 0;
            feats[p] = feature;
            zero[p] = 1.0;
            p++;
        }
        int32_t child = f->walk[n].child[b->left[k] ? 0 : 1];
        double parent = count_of(b, n);
        if (!(parent > 0)) return 0;
        zero[j] = zero[j] * (count_of(b, child) / parent);
        pos[k] = (int8_t)j;
    }
    void **leaf_arrays[] = {(void **)&s->leaf};
    const size_t leaf_sizes[] = {sizeof(ShapLeaf)};
    void **path_arrays[] = {(void **)&s->path_node, (void **)&s->path_left, (void **)&s->path_pos};
    const size_t path_sizes[] = {sizeof(int32_t), 1, 1};
    void **uf_arrays[] = {(void **)&s->uf_feature, (void **)&s->uf_zero};
    const size_t uf_sizes[] = {sizeof(int32_t), sizeof(double)};
    if (grow(&b->cap_leaf, s->nleaf + 1, leaf_arrays, leaf_sizes, 1) < 0 ||
        grow(&b->cap_path, s->npath + depth, path_arrays, path_sizes, 3) < 0 ||
        grow(&b->cap_uf, s->nuf + p, uf_arrays, uf_sizes, 2) < 0)
        return -1;
    s->leaf[s->nleaf++] = (ShapLeaf){(int32_t)s->npath, depth, (int32_t)s->nuf, p, f->value[leaf_walk]};
    for (int k = 0; k < depth; k++) {
        s->path_node[s->npath + k] = b->node[k];
        s->path_left[s->npath + k] = b->left[k];
        s->path_pos[s->npath + k] = pos[k];
    }
    s->npath += depth;
    for (int j = 0; j < p; j++) {
        s->uf_feature[s->nuf + j] = feats[j];
        s->uf_zero[s->nuf + j] = zero[j];
    }
    s->nuf += p;
    return 1;
}

static int shap_walk(ShapBuild *b, int32_t n, int depth) {
    if (n >= b->f->nnodes) {
        if (n < b->leaf_lo) b->leaf_lo = n;
        if (n + 1 > b->leaf_hi) b->leaf_hi = n + 1;
        return shap_leaf(b, n, depth);
    }
    if (depth == b->max_depth) return 0;
    if (n < b->lo) b->lo = n;
    if (n + 1 > b->hi) b->hi = n + 1;
    b->node[depth] = n;
    for (int8_t side = 1; side >= 0; side--) { /* left (1) first */
        b->left[depth] = side;
        int rc = shap_walk(b, b->f->walk[n].child[side ? 0 : 1], depth + 1);
        if (rc <= 0) return rc;
    }
    return 1;
}

static PyObject *Forest_enable_reasons(Forest *f, PyObject *args) {
    Py_buffer internal, leafc;
    int max_depth;
    if (!PyArg_ParseTuple(args, "y*y*i:enable_reasons", &internal, &leafc, &max_depth)) return NULL;
    PyObject *out = NULL;
    struct Shap *s = NULL;
    if (internal.len != f->nnodes * (Py_ssize_t)sizeof(double) || leafc.len != f->nleaves * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "one count per node and one per leaf");
        goto done;
    }
    s = PyMem_Calloc(1, sizeof(struct Shap));
    if (s == NULL) goto nomem;
    s->tree_leaf = PyMem_Malloc(sizeof(int32_t) * (size_t)(f->ntrees + 1));
    s->tree_lo = PyMem_Malloc(sizeof(int32_t) * (size_t)(f->ntrees + 1));
    s->tree_hi = PyMem_Malloc(sizeof(int32_t) * (size_t)(f->ntrees + 1));
    s->bias = PyMem_Malloc(sizeof(double) * (size_t)(f->ntrees + 1));
    s->goes_left = PyMem_Malloc((size_t)(f->nnodes > 0 ? f->nnodes : 1));
    if (!s->tree_leaf || !s->tree_lo || !s->tree_hi || !s->bias || !s->goes_left) goto nomem;
    double fact[SHAP_MAX_P + 2];
    fact[0] = 1.0;
    for (int k = 1; k <= SHAP_MAX_P + 1; k++) fact[k] = fact[k - 1] * k;
    for (int p = 1; p <= SHAP_MAX_P; p++)
        for (int k = 0; k < p; k++) s->weights[p * (SHAP_MAX_P + 1) + k] = fact[k] * fact[p - k - 1] / fact[p];
    ShapBuild b = {.f = f, .s = s, .internal = internal.buf, .leafc = leafc.buf,
                   .max_depth = max_depth < SHAP_MAX_DEPTH ? (max_depth > 0 ? max_depth : 0) : SHAP_MAX_DEPTH};
    for (Py_ssize_t t = 0; t < f->ntrees; t++) {
        int32_t r = f->roots[t];
        s->tree_leaf[t] = (int32_t)s->nleaf;
        b.lo = b.leaf_lo = INT32_MAX;
        b.hi = b.leaf_hi = 0;
        if (r >= f->nnodes) { /* one leaf: its value, and no contribution */
            s->bias[t] = f->value[r];
        } else {
            int rc = shap_walk(&b, r, 0);
            if (rc < 0) goto nomem;
            if (rc == 0) { /* a path too deep: LightGBM keeps the reasons */
                out = Py_NewRef(Py_False);
                goto done;
            }
            /* ExpectedValue: leaves weighted by their share of the root's rows, in LightGBM's leaf order (a
             * tree's leaves are contiguous in the leaf table) */
            double total = b.internal[r], ev = 0.0;
            for (int32_t w = b.leaf_lo; w < b.leaf_hi; w++) ev += (b.leafc[w - f->nnodes] / total) * f->value[w];
            s->bias[t] = ev;
        }
        s->tree_lo[t] = b.lo == INT32_MAX ? 0 : b.lo;
        s->tree_hi[t] = b.hi;
    }
    s->tree_leaf[f->ntrees] = (int32_t)s->nleaf;
    free_shap(f->shap);
    f->shap = s;
    s = NULL;
    out = Py_NewRef(Py_True);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free_shap(s);
    PyBuffer_Release(&internal);
    PyBuffer_Release(&leafc);
    return out;
}

/* One leaf's contributions for the row whose followed-features mask is R (see the section comment). */
static void shap_leaf_row(const struct Shap *s, const ShapLeaf *L, uint64_t R, double *phi) {
    const int p = L->p;
    const double *z = s->uf_zero + L->uf_start;
    const int32_t *feat = s->uf_feature + L->uf_start;
    double c[SHAP_MAX_P + 2], q[SHAP_MAX_P + 1], zout = 1.0;
    int t = 0;
    c[0] = 1.0;
    for (int j = 0; j < p; j++) {
        if (R >> j & 1) { /* c *= (x + z_j) */
            c[t + 1] = c[t];
            for (int k = t; k >= 1; k--) c[k] = c[k - 1] + z[j] * c[k];
            c[0] = z[j] * c[0];
            t++;
        } else {
            zout *= z[j];
        }
    }
    const double *w = s->weights + p * (SHAP_MAX_P + 1);
    double vz = L->value * zout, gR = 0.0;
    if (t < p) /* G(R) is needed only for the features outside R */
        for (int k = 0; k <= t; k++) gR += w[k] * c[k];
    for (int j = 0; j < p; j++) {
        if (R >> j & 1) { /* G(R \ {j}): c divided by (x + z_j), then weighed */
            q[t - 1] = c[t];
            for (int k = t - 1; k >= 1; k--) q[k - 1] = c[k] - z[j] * q[k];
            double g = 0.0;
            for (int k = 0; k < t; k++) g += w[k] * q[k];
            phi[feat[j]] += vz * (1.0 - z[j]) * g;
        } else {
            phi[feat[j]] -= vz * gR;
        }
    }
}

static void shap_row(const Forest *f, const double *x, double *phi) {
    const struct Shap *s = f->shap;
    double bias = 0.0;
    for (Py_ssize_t t = 0; t < f->ntrees; t++) {
        bias += s->bias[t];
        for (int32_t n = s->tree_lo[t]; n < s->tree_hi[t]; n++)
            s->goes_left[n] = (int8_t)(slow_step(f, n, x[f->walk[n].feature]) == f->walk[n].child[0]);
        for (int32_t l = s->tree_leaf[t]; l < s->tree_leaf[t + 1]; l++) {
            const ShapLeaf *L = &s->leaf[l];
            uint64_t R = L->p == 64 ? ~(uint64_t)0 : ((uint64_t)1 << L->p) - 1;
            for (int32_t k = L->path_start; k < L->path_start + L->path_len; k++)
                if (s->goes_left[s->path_node[k]] != s->path_left[k]) R &= ~((uint64_t)1 << s->path_pos[k]);
            shap_leaf_row(s, L, R, phi);
        }
    }
    phi[f->nfeat] = bias;
}

static PyObject *Forest_contributions(Forest *f, PyObject *obj) {
    if (f->shap == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "reasons are not enabled on this forest (enable_reasons)");
        return NULL;
    }
    Py_buffer view;
    if (row_buffer(f, obj, &view, PyBUF_SIMPLE) < 0) return NULL;
    double x[MAX_FEATURES], phi[MAX_FEATURES + 1];
    const double *encoded = view.buf;
    for (Py_ssize_t j = 0; j < f->nfeat; j++) {
        x[j] = as_lightgbm_reads(encoded[j]);
        phi[j] = 0.0;
    }
    PyBuffer_Release(&view);
    shap_row(f, x, phi);
    PyObject *out = PyList_New(f->nfeat + 1);
    if (out == NULL) return NULL;
    for (Py_ssize_t j = 0; j <= f->nfeat; j++) {
        PyObject *v = PyFloat_FromDouble(phi[j]);
        if (v == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, j, v);
    }
    return out;
}

static PyMethodDef Forest_methods[] = {
    {"score", (PyCFunction)Forest_score, METH_O, "score(row) -> result(score, calibrated, ecdf) for a feature mapping."},
    {"encode", (PyCFunction)Forest_encode, METH_VARARGS, "encode(row, out): the encoded, imputed row into out."},
    {"predict", (PyCFunction)Forest_predict, METH_O, "predict(buffer) -> the booster's probability for a row."},
    {"enable_reasons", (PyCFunction)Forest_enable_reasons, METH_VARARGS,
     "enable_reasons(internal_counts, leaf_counts, max_depth) -> whether the reasons are computed here."},
    {"contributions", (PyCFunction)Forest_contributions, METH_O,
     "contributions(buffer) -> TreeSHAP value per feature, then the expected value (as pred_contrib)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ForestType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_fgforest.Forest",
    .tp_basicsize = sizeof(Forest),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A compiled LightGBM forest with its encoding, calibration and ECDF (see models/native.py).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Forest_init,
    .tp_dealloc = (destructor)Forest_dealloc,
    .tp_methods = Forest_methods,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fgforest", "fraudgate's compiled model stage.", -1, NULL, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fgforest(void) {
    if (PyType_Ready(&ForestType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&ForestType);
    if (PyModule_AddObject(m, "Forest", (PyObject *)&ForestType) < 0) {
        Py_DECREF(&ForestType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "MAX_FEATURES", MAX_FEATURES);
    return m;
}
