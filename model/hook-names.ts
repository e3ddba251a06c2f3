// Hook point names, as TransformerLens names them.
export const HOOK_EMBED = 'hook_embed';
export const HOOK_POS_EMBED = 'hook_pos_embed';
export const HOOK_LN_FINAL = 'ln_final.hook_normalized';

export const hookName = {
  residPre: (l: number) => `blocks.${l}.hook_resid_pre`,
  residMid: (l: number) => `blocks.${l}.hook_resid_mid`,
  residPost: (l: number) => `blocks.${l}.hook_resid_post`,
  q: (l: number) => `blocks.${l}.attn.hook_q`,
  k: (l: number) => `blocks.${l}.attn.hook_k`,
  v: (l: number) => `blocks.${l}.attn.hook_v`,
  pattern: (l: number) => `blocks.${l}.attn.hook_pattern`,
  z: (l: number) => `blocks.${l}.attn.hook_z`,
  attnOut: (l: number) => `blocks.${l}.hook_attn_out`,
  mlpOut: (l: number) => `blocks.${l}.hook_mlp_out`,
};

/** Every hook name of a model with n_layer blocks, in forward order. */
export function allHookNames(nLayer: number): string[] {
  const names = [HOOK_EMBED, HOOK_POS_EMBED];
  for (let l = 0; l < nLayer; l++) {
    const h = hookName;
    names.push(h.residPre(l), h.q(l), h.k(l), h.v(l), h.pattern(l), h.z(l), h.attnOut(l), h.residMid(l), h.mlpOut(l), h.residPost(l));
  }
  names.push(HOOK_LN_FINAL);
  return names;
}
