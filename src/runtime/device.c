/* device.c - enumerates every OpenCL platform and device through the ICD
 * loader, queries what cl16 needs to know, and selects one by index or name. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/internal.h"

static void get_str(cl_device_id d, cl_device_info what, char *dst, size_t n) {
    dst[0] = '\0';
    if (clGetDeviceInfo(d, what, n, dst, NULL) != CL_SUCCESS) dst[0] = '\0';
    dst[n - 1] = '\0';
}

static int has_ext(const char *exts, const char *name) {
    size_t l = strlen(name);
    for (const char *p = exts; (p = strstr(p, name)); p += l)
        if ((p == exts || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\0')) return 1;
    return 0;
}

/* Fills info for one device; *ext receives a malloc'd extension string. */
static cl16_status query(cl_platform_id plat, cl_device_id d, cl16_device_info *info, char **ext) {
    memset(info, 0, sizeof *info);
    clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof info->platform, info->platform, NULL);
    info->platform[sizeof info->platform - 1] = '\0';
    clGetPlatformInfo(plat, CL_PLATFORM_VERSION, sizeof info->platform_version,
                      info->platform_version, NULL);
    info->platform_version[sizeof info->platform_version - 1] = '\0';
    get_str(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    get_str(d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    get_str(d, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    get_str(d, CL_DEVICE_VERSION, info->version, sizeof info->version);
    get_str(d, CL_DEVICE_OPENCL_C_VERSION, info->c_version, sizeof info->c_version);

    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    info->type = (t & CL_DEVICE_TYPE_GPU)           ? CL16_DEVICE_GPU
                 : (t & CL_DEVICE_TYPE_CPU)         ? CL16_DEVICE_CPU
                 : (t & CL_DEVICE_TYPE_ACCELERATOR) ? CL16_DEVICE_ACCELERATOR
                                                    : CL16_DEVICE_OTHER;
    cl_ulong u = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof u, &u, NULL);
    info->global_mem = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof u, &u, NULL);
    info->local_mem = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof u, &u, NULL);
    info->max_alloc = u;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    info->max_work_group = wg;
    cl_uint cu = 0, clk = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof clk, &clk, NULL);
    info->compute_units = cu;
    cl_uint fvw = 0;
    clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof fvw, &fvw, NULL);
    info->float_vector_width = fvw;
    info->max_clock_mhz = clk;
    if (sscanf(info->version, "OpenCL %d.%d", &info->cl_major, &info->cl_minor) != 2)
        info->cl_major = 1, info->cl_minor = 0;

    size_t n = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS) n = 0;
    char *e = malloc(n + 1);
    if (!e) return CL16_ERR_OUT_OF_MEMORY;
    e[0] = '\0';
    if (n && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, e, NULL) != CL_SUCCESS) e[0] = '\0';
    e[n] = '\0';
    info->has_fp16_ext = has_ext(e, "cl_khr_fp16");
    info->has_fp64 = has_ext(e, "cl_khr_fp64");
    info->has_int64_atomics = has_ext(e, "cl_khr_int64_base_atomics");
    info->has_subgroups = has_ext(e, "cl_khr_subgroups") || has_ext(e, "cl_intel_subgroups");
    /* OpenCL 2.1+ reports a count; 0 (PoCL on CPUs) means no subgroups. */
    if (!info->has_subgroups && (info->cl_major > 2 || (info->cl_major == 2 && info->cl_minor >= 1))) {
        cl_uint sg = 0;
        if (clGetDeviceInfo(d, 0x105C /* CL_DEVICE_MAX_NUM_SUB_GROUPS */, sizeof sg, &sg, NULL) ==
                CL_SUCCESS &&
            sg > 0)
            info->has_subgroups = 1;
    }
    info->extensions = e;
    *ext = e;
    return CL16_OK;
}

typedef struct found {
    cl_platform_id plat;
    cl_device_id dev;
    int platform_index;
} found;

/* Flat list of (platform, device) over all platforms. */
static cl16_status enumerate(found **out, size_t *count, char *err, size_t err_len) {
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc == -1001 || (rc == CL_SUCCESS && np == 0)) {
        snprintf(err, err_len,
                 "no OpenCL platform found: install an OpenCL driver (ICD), e.g. "
                 "pocl-opencl-icd for the CPU, and check /etc/OpenCL/vendors");
        return CL16_ERR_NO_DEVICE;
    }
    if (rc != CL_SUCCESS) {
        snprintf(err, err_len, "clGetPlatformIDs failed: %s (%d)", cl16__cl_error_name(rc), rc);
        return CL16_ERR_OPENCL;
    }
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return CL16_ERR_OUT_OF_MEMORY;
    clGetPlatformIDs(np, plats, NULL);
    size_t cap = 0, n = 0;
    found *list = NULL;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || !nd)
            continue; /* a platform without devices is not an error */
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs) break;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
        for (cl_uint d = 0; d < nd; d++) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 8;
                found *nl = realloc(list, nc * sizeof *nl);
                if (!nl) break;
                list = nl, cap = nc;
            }
            if (n < cap) list[n++] = (found){plats[p], devs[d], (int)p};
        }
        free(devs);
    }
    free(plats);
    if (!n) {
        free(list);
        snprintf(err, err_len, "OpenCL platforms exist but none has a device");
        return CL16_ERR_NO_DEVICE;
    }
    *out = list;
    *count = n;
    return CL16_OK;
}

cl16_status cl16_devices(cl16_device_info **out, size_t *count, char *err, size_t err_len) {
    char dummy[8];
    if (!err) err = dummy, err_len = sizeof dummy;
    err[0] = '\0';
    if (!out || !count) {
        snprintf(err, err_len, "cl16_devices: out and count must not be NULL");
        return CL16_ERR_INVALID_ARG;
    }
    *out = NULL;
    *count = 0;
    found *list;
    size_t n;
    cl16_status s = enumerate(&list, &n, err, err_len);
    if (s) return s;
    cl16_device_info *infos = calloc(n, sizeof *infos);
    if (!infos) {
        free(list);
        snprintf(err, err_len, "out of host memory");
        return CL16_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        char *ext;
        if (query(list[i].plat, list[i].dev, &infos[i], &ext)) {
            cl16_devices_free(infos, i);
            free(list);
            snprintf(err, err_len, "out of host memory");
            return CL16_ERR_OUT_OF_MEMORY;
        }
        infos[i].index = (int)i;
        infos[i].platform_index = list[i].platform_index;
    }
    free(list);
    *out = infos;
    *count = n;
    return CL16_OK;
}

void cl16_devices_free(cl16_device_info *list, size_t count) {
    if (!list) return;
    for (size_t i = 0; i < count; i++) free((char *)list[i].extensions);
    free(list);
}

static int contains_ci(const char *hay, const char *needle) {
    size_t ln = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < ln && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == ln) return 1;
    }
    return ln == 0;
}

cl16_status cl16__device_select(const char *spec, cl16_device_info *info, char **extensions,
                                cl_platform_id *platform, cl_device_id *device, char *err,
                                size_t err_len) {
    found *list;
    size_t n;
    cl16_status s = enumerate(&list, &n, err, err_len);
    if (s) return s;

    long pick = -1;
    const char *p = spec ? spec : "";
    int numeric = *p != '\0';
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q)) numeric = 0;
    if (!*p) pick = 0;
    else if (numeric) {
        long v = strtol(p, NULL, 10);
        if (v >= 0 && (size_t)v < n) pick = v;
    } else {
        /* Name substring, matched against "platform: device" so either part selects. */
        for (size_t i = 0; i < n && pick < 0; i++) {
            char name[256] = "", pname[128] = "";
            clGetDeviceInfo(list[i].dev, CL_DEVICE_NAME, sizeof name, name, NULL);
            clGetPlatformInfo(list[i].plat, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
            name[sizeof name - 1] = pname[sizeof pname - 1] = '\0';
            if (contains_ci(name, p) || contains_ci(pname, p)) pick = (long)i;
        }
    }
    if (pick < 0) {
        int w = snprintf(err, err_len, "no OpenCL device matches '%s'; the devices are:", p);
        for (size_t i = 0; i < n && w >= 0 && (size_t)w < err_len; i++) {
            char name[256] = "", pname[128] = "";
            clGetDeviceInfo(list[i].dev, CL_DEVICE_NAME, sizeof name, name, NULL);
            clGetPlatformInfo(list[i].plat, CL_PLATFORM_NAME, sizeof pname, pname, NULL);
            name[sizeof name - 1] = pname[sizeof pname - 1] = '\0';
            w += snprintf(err + w, err_len - (size_t)w, "\n  %zu: %s (%s)", i, name, pname);
        }
        free(list);
        return CL16_ERR_NO_DEVICE;
    }
    s = query(list[pick].plat, list[pick].dev, info, extensions);
    info->index = (int)pick;
    info->platform_index = list[pick].platform_index;
    *platform = list[pick].plat;
    *device = list[pick].dev;
    free(list);
    if (s) snprintf(err, err_len, "out of host memory");
    return s;
}
