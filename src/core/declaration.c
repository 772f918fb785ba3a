/* The declaration's text (seed step 15); see declaration.h. */
#include <string.h>

#include "core/declaration.h"
#include "util/buf.h"
#include "util/crypto.h"

const char *const cr_declaration_title = "申請人／登記人協定及聲明";
const char *const cr_declaration_lead = "本人現聲明";
const char *const cr_declaration_points[CR_DECLARATION_POINTS] = {
	"本人確認上述提交之所有資料真實及正確。",
	"本人在此以上述身分證明文件之申請人姓名向澳門郵電電子認證服務 (\"eSignTrust\") 申請簽發指示的電子證書。",
	"鑑於 eSignTrust 處理本人之申請，本人知悉及明確同意將上述申請之證書及私人密碼委託澳門郵電電子認證服務負責使用安全設備儲存及保護。"
	"同時，承認已明白並同意接受及遵守 電子認證\"雲簽\"服務 (簽署服務) 以及 電子證書登記人協議 (包括認證作業準則) 的使用規則及條款。",
	"本人知悉證書一經發出後，其內容在證書有效期內不能更改；否則，任何改動須撤銷原有的電子證書，再重新申請新的電子證書。"
	"本人同意所示之證書續期資料，將會顯示於電子證書上並發佈於澳門郵電電子認證服務的資料庫中，資料庫的資料將會被公眾取得及於澳門特別行政區以外使用。",
	"本人在此授權電子認證服務，使用證書續期資料欄所示之個人資料，通告電子認證\"雲簽\"之應用服務供應方，以用於所申請之有關服務，但不妨礙隨時提出相反意願之權利。",
	"本人知悉有關存取及使用由應用服務供應方提供所申請之服務，需受相關規則及條款規範。",
};

void
cr_declaration_sha256(unsigned char out[32])
{
	struct cr_buf b;

	cr_buf_init(&b, 16384);
	cr_buf_printf(&b, "%s\n%s\n%s", CR_DECLARATION_VERSION, cr_declaration_title, cr_declaration_lead);
	for (int i = 0; i < CR_DECLARATION_POINTS; i++)
		cr_buf_printf(&b, "\n%s", cr_declaration_points[i]);
	cr_sha256(b.data, b.len, out);
	cr_buf_free(&b);
}
