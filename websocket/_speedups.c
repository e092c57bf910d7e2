/* Optional C accelerator for websocket/frames.py: payload masking (RFC 6455 section 5.3).
 *
 * frames.py holds the pure-Python reference and imports this module behind one seam; every
 * function here must return exactly what the reference returns. Two functions:
 *
 *   apply_mask(data, mask) -> bytes
 *       XOR any C-contiguous buffer with the 4-byte mask repeated. Same contract as
 *       frames.apply_mask: empty data gives b"" without looking at the mask, otherwise a mask
 *       that is not 4 bytes long raises ValueError.
 *   unmask_at(buf, key_pos, length) -> bytes
 *       The hot path of parse_frame: read the masking key at buf[key_pos:key_pos + 4] and
 *       return the `length` payload bytes that follow it, unmasked, with no intermediate slice.
 *
 *   simple_frames(buf, pos, mask_required, max_size) -> (list, int)
 *       The receive fast path of websocket.protocol.Protocol._simple_frames (the reference):
 *       the messages of the whole, unfragmented text and binary frames at buf[pos] (FIN set,
 *       no RSV bit, masked iff mask_required, a 7-bit or minimal 16-bit length <= max_size),
 *       as bytes or str, and the position where it stopped. It stops before anything else,
 *       including a text frame that is not valid UTF-8, and leaves it to the reference path.
 *
 * Rules: 8 bytes at a time through memcpy (no unaligned or type-punned loads, the compiler
 * turns the memcpy into a plain load), every Py_buffer released on every path, and the GIL
 * released while masking large payloads (the exporter cannot resize a buffer while we hold a
 * view on it, so this is safe for bytearray too).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Mask at least this many bytes without the GIL; below, releasing it costs more than it gives. */
#define NOGIL_MIN ((Py_ssize_t)1 << 16)

static void
xor_mask(const unsigned char *in, unsigned char *out, Py_ssize_t n, const unsigned char key[4])
{
    unsigned char key8[8];
    uint64_t mask64, word;
    Py_ssize_t i = 0;

    memcpy(key8, key, 4);
    memcpy(key8 + 4, key, 4);
    memcpy(&mask64, key8, 8);
    for (; i + 8 <= n; i += 8) {
        memcpy(&word, in + i, 8);
        word ^= mask64;
        memcpy(out + i, &word, 8);
    }
    /* i is a multiple of 8, hence of 4: the tail starts on a key boundary. */
    for (; i < n; i++) {
        out[i] = in[i] ^ key[i & 3];
    }
}

/* A new bytes object holding `n` bytes of `in` XORed with `key`, or NULL with an exception. */
static PyObject *
masked_bytes(const unsigned char *in, Py_ssize_t n, const unsigned char key[4])
{
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    if (result == NULL) {
        return NULL;
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(result);
    if (n >= NOGIL_MIN) {
        Py_BEGIN_ALLOW_THREADS
        xor_mask(in, out, n, key);
        Py_END_ALLOW_THREADS
    }
    else {
        xor_mask(in, out, n, key);
    }
    return result;
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, mask, /)\n--\n\n"
"XOR data with the 4-byte mask repeated (RFC 6455 section 5.3); returns bytes.");

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "apply_mask expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        if (!PyMemoryView_Check(args[0]) || !PyErr_ExceptionMatches(PyExc_BufferError)) {
            return NULL;
        }
        /* A non-contiguous memoryview: the reference accepts it, so mask a contiguous copy. */
        PyErr_Clear();
        PyObject *copy = PyObject_Bytes(args[0]);
        if (copy == NULL) {
            return NULL;
        }
        PyObject *copy_args[2] = {copy, args[1]};
        result = apply_mask(module, copy_args, 2);
        Py_DECREF(copy);
        return result;
    }
    if (data.len == 0) {
        /* Like the reference: nothing to mask, the mask is not looked at. */
        PyBuffer_Release(&data);
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "the mask must be 4 bytes long");
    }
    else {
        result = masked_bytes((const unsigned char *)data.buf, data.len,
                              (const unsigned char *)mask.buf);
    }
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(unmask_at_doc,
"unmask_at(buf, key_pos, length, /)\n--\n\n"
"The length bytes after the masking key at buf[key_pos:key_pos + 4], unmasked, as bytes.");

static PyObject *
unmask_at(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    Py_ssize_t key_pos, length;
    PyObject *result = NULL;

    (void)module;

    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "unmask_at expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    key_pos = PyLong_AsSsize_t(args[1]);
    if (key_pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    length = PyLong_AsSsize_t(args[2]);
    if (length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    /* Written so that no sum can overflow: key_pos + 4 + length <= buf.len. */
    if (key_pos < 0 || length < 0 || key_pos > buf.len - 4 || length > buf.len - 4 - key_pos) {
        PyErr_SetString(PyExc_ValueError, "key_pos and length reach outside the buffer");
    }
    else {
        const unsigned char *key = (const unsigned char *)buf.buf + key_pos;
        result = masked_bytes(key + 4, length, key);
    }
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(simple_frames_doc,
"simple_frames(buf, pos, mask_required, max_size, /)\n--\n\n"
"The messages of the whole unfragmented data frames at buf[pos], and where it stopped.");

static PyObject *
simple_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer buf;
    Py_ssize_t pos, max_size;
    int mask_required;
    PyObject *messages, *result = NULL;

    (void)module;

    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "simple_frames expected 4 arguments, got %zd", nargs);
        return NULL;
    }
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    mask_required = PyObject_IsTrue(args[2]);
    if (mask_required < 0) {
        return NULL;
    }
    max_size = PyLong_AsSsize_t(args[3]);
    if (max_size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &buf, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    messages = PyList_New(0);
    if (messages == NULL) {
        goto done;
    }
    if (pos < 0 || pos > buf.len) {
        PyErr_SetString(PyExc_ValueError, "pos outside the buffer");
        Py_CLEAR(messages);
        goto done;
    }
    {
        const unsigned char *data = (const unsigned char *)buf.buf;
        const Py_ssize_t size = buf.len;
        const unsigned char mask_bit = mask_required ? 0x80 : 0;

        while (size - pos >= 2) {
            unsigned char b0 = data[pos], b1 = data[pos + 1];
            Py_ssize_t length, head, end;
            PyObject *message;

            if (b0 != 0x82 && b0 != 0x81) {  /* FIN + BINARY, FIN + TEXT */
                break;
            }
            if ((b1 & 0x80) != mask_bit) {
                break;
            }
            length = b1 & 0x7F;
            head = pos + 2;
            if (length > 125) {
                if (length != 126 || size - pos < 4) {
                    break;
                }
                length = ((Py_ssize_t)data[head] << 8) | data[head + 1];
                if (length < 126) {
                    break;
                }
                head += 2;
            }
            if (length > max_size) {
                break;
            }
            /* No sum can overflow: head <= size and length < 65536. */
            if (mask_bit) {
                if (length > size - head - 4) {
                    break;
                }
                end = head + 4 + length;
                message = masked_bytes(data + head + 4, length, data + head);
            }
            else {
                if (length > size - head) {
                    break;
                }
                end = head + length;
                message = PyBytes_FromStringAndSize((const char *)data + head, length);
            }
            if (message == NULL) {
                Py_CLEAR(messages);
                goto done;
            }
            if (b0 == 0x81) {
                PyObject *text = PyUnicode_DecodeUTF8(
                    PyBytes_AS_STRING(message), PyBytes_GET_SIZE(message), NULL);
                Py_DECREF(message);
                if (text == NULL) {
                    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                        Py_CLEAR(messages);
                        goto done;
                    }
                    PyErr_Clear();  /* the reference path raises InvalidUTF8 for it */
                    break;
                }
                message = text;
            }
            if (PyList_Append(messages, message) < 0) {
                Py_DECREF(message);
                Py_CLEAR(messages);
                goto done;
            }
            Py_DECREF(message);
            pos = end;
        }
    }
    result = Py_BuildValue("(Nn)", messages, pos);
done:
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL, apply_mask_doc},
    {"unmask_at", (PyCFunction)(void (*)(void))unmask_at, METH_FASTCALL, unmask_at_doc},
    {"simple_frames", (PyCFunction)(void (*)(void))simple_frames, METH_FASTCALL,
     simple_frames_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot speedups_slots[] = {
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "websocket._speedups",
    .m_doc = "C accelerator for websocket.frames (masking); see frames.py for the reference.",
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
