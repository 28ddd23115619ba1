# Writes test/train/fixtures/torch-mlm-trajectory: a post-LN BERT masked LM in plain PyTorch (the parameter
# names of transformers' BertForMaskedLM, decoder tied to the word embeddings) trained for a few steps on a
# copying task (8 random words, a separator, the same 8 words; 15% masked, 80/10/10), with AdamW, warm-up +
# cosine schedule and clipping as adaptlm's pretrain uses them. It saves the initial weights, every batch and
# the loss and gradient norm of every step, and the final weights; test/train/torch-trajectory.test.ts trains adaptlm's BERT from the
# same weights on the same batches and compares the curves step by step.
#
#   cd test/train/fixtures/torch-mlm-trajectory && /usr/bin/python3 ../../../../scripts/make-torch-mlm-trajectory.py
#
# (Debian's python3-torch; transformers is not needed.)
import torch, math, random, sys, json, struct
torch.set_num_threads(1)
STEPS=40
LR=3e-3
torch.manual_seed(0); random.seed(0)
V=64; H=32; L=2; NH=2; F=64; S=16; B=8; WARM=5
CLS,SEP,MASK=1,2,3
def doc():
    w=[random.randrange(10,V) for _ in range(8)]
    return w+[4]+w+[5]
stream=[]
while len(stream)<S*B*(STEPS+10): stream+=doc()+[SEP]
blocks=[[CLS]+stream[i:i+S-1] for i in range(0,len(stream)-S,S-1)]
P={}
def lin(name,i,o):
    P[name+".weight"]=torch.nn.Parameter(torch.randn(o,i)*0.02); P[name+".bias"]=torch.nn.Parameter(torch.zeros(o))
def ln(name):
    P[name+".weight"]=torch.nn.Parameter(torch.ones(H)); P[name+".bias"]=torch.nn.Parameter(torch.zeros(H))
P["bert.embeddings.word_embeddings.weight"]=torch.nn.Parameter(torch.randn(V,H)*0.02)
P["bert.embeddings.position_embeddings.weight"]=torch.nn.Parameter(torch.randn(S,H)*0.02)
P["bert.embeddings.token_type_embeddings.weight"]=torch.nn.Parameter(torch.randn(2,H)*0.02)
ln("bert.embeddings.LayerNorm")
for l in range(L):
    p=f"bert.encoder.layer.{l}."
    for n in ("query","key","value"): lin(p+"attention.self."+n,H,H)
    lin(p+"attention.output.dense",H,H); ln(p+"attention.output.LayerNorm")
    lin(p+"intermediate.dense",H,F); lin(p+"output.dense",F,H); ln(p+"output.LayerNorm")
lin("cls.predictions.transform.dense",H,H); ln("cls.predictions.transform.LayerNorm")
P["cls.predictions.bias"]=torch.nn.Parameter(torch.zeros(V))
def save(path):
    header={}; off=0; blobs=[]
    for k,t in P.items():
        b=t.detach().contiguous().numpy().astype("<f4").tobytes(); header[k]={"dtype":"F32","shape":list(t.shape),"data_offsets":[off,off+len(b)]}; off+=len(b); blobs.append(b)
    h=json.dumps(header).encode(); h+=b" "*((8-len(h)%8)%8)
    with open(path,"wb") as f: f.write(struct.pack("<Q",len(h))); f.write(h); [f.write(b) for b in blobs]
save("model.safetensors")  # the initial weights
json.dump({"model_type":"bert","architectures":["BertForMaskedLM"],"vocab_size":V,"hidden_size":H,"num_hidden_layers":L,"num_attention_heads":NH,"intermediate_size":F,"max_position_embeddings":S,"type_vocab_size":2,"hidden_act":"gelu","layer_norm_eps":1e-12,"pad_token_id":0},open("config.json","w"))
def lnf(x,name): return torch.nn.functional.layer_norm(x,(H,),P[name+".weight"],P[name+".bias"],1e-12)
def linf(x,name): return torch.nn.functional.linear(x,P[name+".weight"],P[name+".bias"])
def forward(ids):
    b,t=ids.shape
    x=lnf(P["bert.embeddings.word_embeddings.weight"][ids]+P["bert.embeddings.position_embeddings.weight"][torch.arange(t)]+P["bert.embeddings.token_type_embeddings.weight"][torch.zeros_like(ids)],"bert.embeddings.LayerNorm")
    for l in range(L):
        p=f"bert.encoder.layer.{l}."
        sh=lambda y: y.view(b,t,NH,H//NH).transpose(1,2)
        q,k,v=[sh(linf(x,p+"attention.self."+n)) for n in ("query","key","value")]
        a=torch.softmax(q@k.transpose(-1,-2)/math.sqrt(H//NH),-1)@v
        x=lnf(x+linf(a.transpose(1,2).reshape(b,t,H),p+"attention.output.dense"),p+"attention.output.LayerNorm")
        x=lnf(x+linf(torch.nn.functional.gelu(linf(x,p+"intermediate.dense")),p+"output.dense"),p+"output.LayerNorm")
    x=lnf(torch.nn.functional.gelu(linf(x,"cls.predictions.transform.dense")),"cls.predictions.transform.LayerNorm")
    return x@P["bert.embeddings.word_embeddings.weight"].T+P["cls.predictions.bias"]
dec=[p for n,p in P.items() if p.dim()>1]; nodec=[p for n,p in P.items() if p.dim()<=1]
opt=torch.optim.AdamW([{"params":dec,"weight_decay":0.01},{"params":nodec,"weight_decay":0}],lr=LR,betas=(0.9,0.999),eps=1e-8)
def lr_at(s): return LR*s/WARM if s<WARM else LR*(0.1+0.9*0.5*(1+math.cos(math.pi*(s-WARM)/(STEPS-WARM))))
gen=torch.Generator().manual_seed(1)
fb=open("batches.bin","wb"); out=open("torch_losses.txt","w")
for step in range(STEPS):
    batch=torch.tensor([blocks[(step*B+i)%len(blocks)] for i in range(B)])
    labels=batch.clone(); sel=(torch.rand(batch.shape,generator=gen)<0.15)&(batch>5); labels[~sel]=-100
    inp=batch.clone(); r=torch.rand(batch.shape,generator=gen); inp[sel&(r<0.8)]=MASK; rnd=sel&(r>=0.8)&(r<0.9); inp[rnd]=torch.randint(10,V,batch.shape,generator=gen)[rnd]
    fb.write(inp.to(torch.int32).numpy().tobytes()); fb.write(labels.to(torch.int32).numpy().tobytes())
    for g in opt.param_groups: g["lr"]=lr_at(step)
    loss=torch.nn.functional.cross_entropy(forward(inp).view(-1,V),labels.view(-1),ignore_index=-100)
    opt.zero_grad(); loss.backward(); gn=torch.nn.utils.clip_grad_norm_(P.values(),1.0); opt.step()
    out.write(f"{step+1} {loss.item():.6f} {gn.item():.6f}\n"); out.flush()
save("final.safetensors")
