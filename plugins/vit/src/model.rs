//! The module. Names are the plugin's own (`patch_embed`, `class_token`, `pos_embedding`,
//! `blocks.N.{ln_1,attn.qkv,attn.out,ln_2,mlp.fc1,mlp.fc2}`, `norm`); the naming schemes map
//! torchvision's and timm's onto them.

use rateme_sdk::burn::module::Param;
use rateme_sdk::burn::nn::Dropout;
use rateme_sdk::burn::nn::conv::Conv2d;
use rateme_sdk::layers::{EncoderBlock, LayerNorm};
use rateme_sdk::prelude::*;

/// Images cut into patches (a convolution of kernel and stride `patch`), a class token in
/// front, position embeddings added, pre-norm encoder blocks, a final layer norm; the features
/// are the class token's.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    pub patch_embed: Conv2d,
    /// `[1, 1, dim]`.
    pub class_token: Param<Tensor<3>>,
    /// `[1, 1 + grid², dim]`: the class token's, then the patches' in row-major order.
    pub pos_embedding: Param<Tensor<3>>,
    pub dropout: Dropout,
    pub blocks: Vec<EncoderBlock>,
    pub norm: LayerNorm,
}

impl BackboneModel for VisionTransformer {
    fn forward_features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = autocast::conv2d(&self.patch_embed, images);
        let [batch, dim, ..] = x.dims();
        let patches = x.flatten::<3>(2, 3).swap_dims(1, 2);
        let class = self.class_token.val().expand([batch, 1, dim]);
        let mut x = self
            .dropout
            .forward(Tensor::cat(vec![class, patches], 1) + self.pos_embedding.val());
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.norm.forward(x.narrow(1, 0, 1)).reshape([batch, dim])
    }
}
