// Skypatrol's binding to libdeflate's zlib decompressor (https://github.com/ebiggers/libdeflate),
// the inflater GDAL uses when it is built with it: on COG blocks of imagery it decodes about
// 1.6 times as fast as Node's own zlib (docs/benchmarks-tiles.md). Two functions:
//
//   inflate(input: Uint8Array, output: Uint8Array): Promise<number>
//     inflates a zlib stream into `output` on libuv's thread pool; resolves to the bytes written
//   inflateSync(input: Uint8Array, output: Uint8Array): number
//     the same on the calling thread
//
// Errors: "deflate: invalid or truncated data", "deflate: output larger than N bytes".
// Built by scripts/build-native.sh (plain gcc against Node's headers and -ldeflate).
#include <node_api.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>

// One decompressor per thread (it holds only decode tables; allocating one costs a malloc).
static __thread struct libdeflate_decompressor *tls_decompressor = NULL;

static struct libdeflate_decompressor *decompressor(void) {
  if (!tls_decompressor) tls_decompressor = libdeflate_alloc_decompressor();
  return tls_decompressor;
}

static enum libdeflate_result run(const void *in, size_t in_len, void *out, size_t out_len, size_t *got) {
  struct libdeflate_decompressor *d = decompressor();
  if (!d) return LIBDEFLATE_BAD_DATA;
  return libdeflate_zlib_decompress(d, in, in_len, out, out_len, got);
}

static void message(enum libdeflate_result rc, size_t out_len, char *buf, size_t n) {
  if (rc == LIBDEFLATE_INSUFFICIENT_SPACE) snprintf(buf, n, "deflate: output larger than %zu bytes", out_len);
  else snprintf(buf, n, "deflate: invalid or truncated data");
}

/** Bytes of a TypedArray (or Buffer) argument; false and a pending TypeError otherwise. */
static int bytes_of(napi_env env, napi_value v, void **data, size_t *len, const char *what) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) {
    char msg[64];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *len = length;
  return 1;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref in_ref, out_ref;
  void *in, *out;
  size_t in_len, out_len, got;
  enum libdeflate_result rc;
} Job;

static void execute(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  j->rc = run(j->in, j->in_len, j->out, j->out_len, &j->got);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  napi_value result;
  if (status == napi_ok && j->rc == LIBDEFLATE_SUCCESS) {
    napi_create_double(env, (double)j->got, &result);
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    char msg[96];
    if (status != napi_ok) snprintf(msg, sizeof msg, "deflate: cancelled");
    else message(j->rc, j->out_len, msg, sizeof msg);
    napi_value text, err;
    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, NULL, text, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_reference(env, j->in_ref);
  napi_delete_reference(env, j->out_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

/**
 * The two arguments (input, output) of either function and their bytes; false and a pending
 * TypeError when they are missing or not Uint8Arrays.
 */
static int two_arrays(napi_env env, napi_callback_info info, const char *usage, napi_value argv[2], void **in,
                      size_t *in_len, void **out, size_t *out_len) {
  size_t argc = 2;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return bytes_of(env, argv[0], in, in_len, "input") && bytes_of(env, argv[1], out, out_len, "output");
}

static napi_value inflate_async(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "deflate: out of memory");
    return NULL;
  }
  if (!two_arrays(env, info, "inflate(input, output)", argv, &j->in, &j->in_len, &j->out, &j->out_len)) {
    free(j);
    return NULL;
  }
  // The arrays stay alive (and their memory in place) until the work completes.
  napi_create_reference(env, argv[0], 1, &j->in_ref);
  napi_create_reference(env, argv[1], 1, &j->out_ref);
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "skypatrol.inflate", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value inflate_sync(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  void *in, *out;
  size_t in_len, out_len, got = 0;
  if (!two_arrays(env, info, "inflateSync(input, output)", argv, &in, &in_len, &out, &out_len)) return NULL;
  enum libdeflate_result rc = run(in, in_len, out, out_len, &got);
  if (rc != LIBDEFLATE_SUCCESS) {
    char msg[96];
    message(rc, out_len, msg, sizeof msg);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_value result;
  napi_create_double(env, (double)got, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "inflate", NAPI_AUTO_LENGTH, inflate_async, NULL, &fn);
  napi_set_named_property(env, exports, "inflate", fn);
  napi_create_function(env, "inflateSync", NAPI_AUTO_LENGTH, inflate_sync, NULL, &fn);
  napi_set_named_property(env, exports, "inflateSync", fn);
  return exports;
}
