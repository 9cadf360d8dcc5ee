// oneDNN's verbose log read back (kernel_log.hpp), on lines as libtorch 1.13's oneDNN 2.6 and PyTorch
// 2.15's oneDNN 3.x wrote them here.
#include <catch2/catch.hpp>

#include "ldmrecon/kernel_log.hpp"

using namespace ldmrecon;

TEST_CASE("oneDNN 3.x verbose lines: kernels per implementation, ISA shares, reorders", "[onednn]") {
    const std::string text =
        "onednn_verbose,v1,info,oneDNN v3.13.3 (commit b38f97eb6f2173513112f15a0481750b8a66e901)\n"
        "onednn_verbose,v1,info,cpu,isa:Intel AVX 10.1\n"
        "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:bf16::blocked:abcd::f0 "
        "dst:bf16:p:blocked:AcdB16a2b::f0,attr-scratchpad:user,,16x1x3x3,0.5\n"
        "onednn_verbose,v1,primitive,exec,cpu,convolution,jit_bf16:avx512_core_bf16,forward_training,src:bf16:a:"
        "blocked:abcd::f0,attr-scratchpad:user,alg:convolution_direct,mb1_ic1oc16_ih424oh424kh3sh1dh0ph1,3.0\n"
        "onednn_verbose,v1,primitive,exec,cpu,convolution,jit_bf16:avx512_core_bf16,forward_training,x,5.0\n"
        "onednn_verbose,v1,primitive,exec,cpu,convolution,x64:gemm:jit,forward_training,src:bf16:a:blocked:abcd::f0,"
        "attr-scratchpad:user,alg:convolution_direct,mb1_ic64oc64_ih1oh1kh1sh1dh0ph0_iw2121ow2121kw11sw1dw4pw25,2.0\n"
        "onednn_verbose,v1,primitive,exec,cpu,deconvolution,brg_deconv:avx512_core_amx+brgconv_strided:"
        "avx512_core_amx,forward_training,x,10.0\n"
        "ldmrecon: info: not a oneDNN line,exec,cpu,convolution,x,1.0\n";
    const KernelLog log = parse_onednn_verbose(text);
    CHECK(log.isa == "Intel AVX 10.1");
    REQUIRE(log.uses.size() == 4);
    CHECK(log.uses[0].primitive == "deconvolution");  // most time first
    CHECK(log.uses[0].ms == Approx(10.0));
    CHECK(log.uses[1].implementation == "jit_bf16:avx512_core_bf16");
    CHECK(log.uses[1].calls == 2);
    CHECK(log.uses[1].ms == Approx(8.0));
    CHECK(log.total_ms() == Approx(20.5));
    CHECK(log.reorder_ms() == Approx(0.5));
    // Shares leave the reorders out: 10 of 20 ms in AMX, 8 in AVX-512 BF16, 2 in the gemm fall-back.
    CHECK(log.share("AMX") == Approx(0.5));
    CHECK(log.share("AVX-512 BF16") == Approx(0.4));
    CHECK(log.share("other") == Approx(0.1));
    CHECK(log.share("AVX2") == 0.0);
}

TEST_CASE("oneDNN 2.x verbose lines (libtorch 1.13)", "[onednn]") {
    const std::string text =
        "onednn_verbose,info,oneDNN v2.6.3 (commit N/A)\n"
        "onednn_verbose,info,cpu,isa:Intel AVX-512 with Intel DL Boost and bfloat16 support\n"
        "onednn_verbose,exec,cpu,reorder,jit:blk,undef,src_f32::blocked:abcd:f0 dst_f32::blocked:Acdb16a:f0,"
        "attr-scratchpad:user ,,16x1x3x3,0.00488281\n"
        "onednn_verbose,exec,cpu,convolution,jit:avx512_core,forward_training,src_f32::blocked:abcd:f0 "
        "wei_f32::blocked:Acdb16a:f0,attr-scratchpad:user ,alg:convolution_direct,mb1_ic1oc16_ih424oh424,1.22192\n"
        "onednn_verbose,exec,cpu,convolution,jit_1x1:avx512_core,forward_training,x,0.5\n";
    const KernelLog log = parse_onednn_verbose(text);
    CHECK(log.isa == "Intel AVX-512 with Intel DL Boost and bfloat16 support");
    REQUIRE(log.uses.size() == 3);
    CHECK(log.uses[0].implementation == "jit:avx512_core");
    CHECK(log.share("AVX-512") == Approx(1.0));
    CHECK(log.reorder_ms() == Approx(0.00488281));
}

TEST_CASE("implementation names map to their instruction sets", "[onednn]") {
    CHECK(kernel_isa_class("brgconv:avx512_core_amx") == "AMX");
    CHECK(kernel_isa_class("brg_matmul:avx512_core_amx_fp16") == "AMX");
    CHECK(kernel_isa_class("jit_bf16:avx512_core_bf16") == "AVX-512 BF16");
    CHECK(kernel_isa_class("jit_int8:avx512_core_vnni") == "AVX-512 VNNI");
    CHECK(kernel_isa_class("jit:avx512_core") == "AVX-512");
    CHECK(kernel_isa_class("brgconv:avx2") == "AVX2");
    CHECK(kernel_isa_class("x64:gemm:jit") == "other");
    CHECK(kernel_isa_class("ref:any") == "other");
    CHECK(parse_onednn_verbose("").uses.empty());
}
