/* The GMAC check of a record's tag, compiled: `huigong_events.authenticity` uses it when it is
 * built (bin/setup, the Dockerfile) and its own Python code otherwise, with the same result.
 *
 * Why compiled: the check runs once per record on every consumer, with a budget of 2 us. In
 * Python it is about fifteen calls (the MessagePack encoder, slicing, joining, the AES-GCM
 * object that schedules its key anew on every call, hex decoding), each 50 to 200 ns. Here it is
 * one call: the headers are framed as MessagePack into a buffer on the stack, and OpenSSL's
 * AES-256-GCM, its key scheduled once per key, authenticates them and the value.
 *
 * What is checked is defined in authenticity.py's docstring; the framing must be byte for byte
 * what `msgspec.msgpack.encode` writes for the header list, which tests/unit/test_authenticity.py
 * checks over every length boundary. Anything this code does not frame itself (a header that is
 * not a (str, bytes) pair, headers too long for the buffer) answers None, and the caller takes
 * the Python path, so the answer never depends on whether this module is built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <string.h>

#define NONCE 12
#define TAG 16
#define FRAME 16384 /* the headers of a record are about 600 bytes framed, its value a few hundred */

typedef struct {
    PyObject_HEAD
    EVP_CIPHER_CTX *ctx;
} GmacKey;

static void gmac_dealloc(GmacKey *self) {
    if (self->ctx != NULL) {
        EVP_CIPHER_CTX_free(self->ctx);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int gmac_init(GmacKey *self, PyObject *args, PyObject *kwds) {
    Py_buffer key;
    if (!PyArg_ParseTuple(args, "y*", &key)) {
        return -1;
    }
    if (key.len != 32) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "an AES-256 key is 32 bytes");
        return -1;
    }
    if (self->ctx == NULL) {
        self->ctx = EVP_CIPHER_CTX_new();
    }
    int ok = self->ctx != NULL
        && EVP_DecryptInit_ex(self->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
        && EVP_CIPHER_CTX_ctrl(self->ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE, NULL) == 1
        && EVP_DecryptInit_ex(self->ctx, NULL, NULL, key.buf, NULL) == 1;
    PyBuffer_Release(&key);
    if (!ok) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL could not set up AES-256-GCM");
        return -1;
    }
    return 0;
}

/* MessagePack's smallest forms, as msgspec writes them. */
static unsigned char *put_length(unsigned char *out, Py_ssize_t n, unsigned char fix, int fixmax,
                                 unsigned char c8, unsigned char c16, unsigned char c32) {
    if (fix && n <= fixmax) {
        *out++ = (unsigned char)(fix | n);
    } else if (c8 && n <= 0xff) {
        *out++ = c8;
        *out++ = (unsigned char)n;
    } else if (n <= 0xffff) {
        *out++ = c16;
        *out++ = (unsigned char)(n >> 8);
        *out++ = (unsigned char)n;
    } else {
        *out++ = c32;
        *out++ = (unsigned char)(n >> 24);
        *out++ = (unsigned char)(n >> 16);
        *out++ = (unsigned char)(n >> 8);
        *out++ = (unsigned char)n;
    }
    return out;
}

static int unhex(const char *hex, unsigned char *out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) {
                return 0;
            }
            v = v * 16 + d;
        }
        out[i] = (unsigned char)v;
    }
    return 1;
}

/* verify(headers, value, sealed) -> True, False, or None (take the Python path).
 * headers: the record's headers, the tag's last (not covered); value: the record value;
 * sealed: the tag header's value, the nonce and the tag in hex. */
static PyObject *gmac_verify(GmacKey *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "verify(headers, value, sealed)");
        return NULL;
    }
    PyObject *headers = args[0], *value = args[1], *sealed = args[2];
    if (!(PyList_CheckExact(headers) || PyTuple_CheckExact(headers)) || !PyBytes_CheckExact(value)
        || !PyBytes_CheckExact(sealed)) {
        Py_RETURN_NONE;
    }
    if (PyBytes_GET_SIZE(sealed) != 2 * (NONCE + TAG)) {
        Py_RETURN_FALSE;
    }
    unsigned char raw[NONCE + TAG];
    if (!unhex(PyBytes_AS_STRING(sealed), raw, NONCE + TAG)) {
        Py_RETURN_FALSE;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(headers) - 1; /* every header but the tag */
    if (count < 0) {
        Py_RETURN_NONE;
    }
    PyObject **items = PySequence_Fast_ITEMS(headers);
    unsigned char frame[FRAME];
    unsigned char *out = put_length(frame, count, 0x90, 15, 0, 0xdc, 0xdd);
    const unsigned char *end = frame + FRAME;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = items[i];
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_RETURN_NONE;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0), *bytes = PyTuple_GET_ITEM(pair, 1);
        if (!PyUnicode_CheckExact(name) || !PyUnicode_IS_COMPACT_ASCII(name) || !PyBytes_CheckExact(bytes)) {
            Py_RETURN_NONE;
        }
        Py_ssize_t name_len = PyUnicode_GET_LENGTH(name), bytes_len = PyBytes_GET_SIZE(bytes);
        if (end - out < 1 + 5 + name_len + 5 + bytes_len) {
            Py_RETURN_NONE;
        }
        *out++ = 0x92;
        out = put_length(out, name_len, 0xa0, 31, 0xd9, 0xda, 0xdb);
        memcpy(out, PyUnicode_DATA(name), (size_t)name_len);
        out += name_len;
        out = put_length(out, bytes_len, 0, 0, 0xc4, 0xc5, 0xc6);
        memcpy(out, PyBytes_AS_STRING(bytes), (size_t)bytes_len);
        out += bytes_len;
    }
    /* The value after the headers in the same buffer when it fits: one pass of GHASH over both
     * (each call into OpenSSL costs about as much as hashing a few hundred bytes). */
    Py_ssize_t value_len = PyBytes_GET_SIZE(value);
    const unsigned char *value_bytes = (const unsigned char *)PyBytes_AS_STRING(value);
    if (end - out >= value_len) {
        memcpy(out, value_bytes, (size_t)value_len);
        out += value_len;
        value_len = 0;
    }
    int n = 0;
    unsigned char none[1];
    EVP_CIPHER_CTX *ctx = self->ctx;
    int valid = EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, raw) == 1
        && EVP_DecryptUpdate(ctx, NULL, &n, frame, (int)(out - frame)) == 1
        && value_len <= INT_MAX
        && (value_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, value_bytes, (int)value_len) == 1)
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE) == 1
        && EVP_DecryptFinal_ex(ctx, none, &n) == 1;
    if (valid) {
        Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef gmac_methods[] = {
    {"verify", (PyCFunction)(void (*)(void))gmac_verify, METH_FASTCALL,
     "verify(headers, value, sealed) -> True, False, or None: take the Python path"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GmacKeyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "huigong_events._tagcheck.GmacKey",
    .tp_basicsize = sizeof(GmacKey),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "GmacKey(key: 32 bytes): checks GMAC tags of records under one key",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)gmac_init,
    .tp_dealloc = (destructor)gmac_dealloc,
    .tp_methods = gmac_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_tagcheck", "The GMAC check of records' tags, compiled.", -1, NULL,
};

PyMODINIT_FUNC PyInit__tagcheck(void) {
    if (PyType_Ready(&GmacKeyType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) {
        return NULL;
    }
    Py_INCREF(&GmacKeyType);
    if (PyModule_AddObject(m, "GmacKey", (PyObject *)&GmacKeyType) < 0) {
        Py_DECREF(&GmacKeyType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
