//! The module. Names are the plugin's own (`patch_embed`, `class_embedding`, `pos_embedding`,
//! `ln_pre`, `blocks.N.{ln_1,attn.qkv,attn.out,ln_2,mlp.fc1,mlp.fc2}`, `ln_post`, `proj`); the
//! naming schemes map OpenAI's and Hugging Face's onto them.

use rateme_sdk::burn::module::Param;
use rateme_sdk::burn::nn::conv::Conv2d;
use rateme_sdk::layers::EncoderBlock;
use rateme_sdk::layers::LayerNorm;
use rateme_sdk::prelude::*;

/// CLIP's image tower: patches (a bias-free convolution), the class embedding in front,
/// position embeddings, `ln_pre`, pre-norm blocks with QuickGELU, `ln_post` of the class
/// token, optionally projected into the joint image-text space.
#[derive(Module, Debug)]
pub struct ClipVision {
    pub patch_embed: Conv2d,
    /// `[width]`.
    pub class_embedding: Param<Tensor<1>>,
    /// `[1 + grid², width]`.
    pub pos_embedding: Param<Tensor<2>>,
    pub ln_pre: LayerNorm,
    pub blocks: Vec<EncoderBlock>,
    pub ln_post: LayerNorm,
    /// `[width, output_dim]`, applied as `x @ proj` (OpenAI's layout).
    pub proj: Option<Param<Tensor<2>>>,
}

impl BackboneModel for ClipVision {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = autocast::conv2d(&self.patch_embed, images);
        let [batch, width, ..] = x.dims();
        let patches = x.flatten::<3>(2, 3).swap_dims(1, 2);
        let class = self
            .class_embedding
            .val()
            .reshape([1, 1, width])
            .expand([batch, 1, width]);
        let x = Tensor::cat(vec![class, patches], 1) + self.pos_embedding.val().unsqueeze::<3>();
        let mut x = self.ln_pre.forward(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        let pooled = self
            .ln_post
            .forward(x.narrow(1, 0, 1))
            .reshape([batch, width]);
        match &self.proj {
            Some(proj) => autocast::matmul(pooled, proj.val()),
            None => pooled,
        }
    }
}
