-- What cv.render makes besides the HTML: the ATS plain-text version, its keyword coverage against the job
-- description, and the PDF where Chromium is installed. Added columns only (the schema allows it); the
-- apps' columns keep their meaning.
ALTER TABLE public.cv_generations ADD COLUMN IF NOT EXISTS ats_text text;
ALTER TABLE public.cv_generations ADD COLUMN IF NOT EXISTS ats_score smallint CHECK (ats_score BETWEEN 0 AND 100);
ALTER TABLE public.cv_generations ADD COLUMN IF NOT EXISTS ats_keywords jsonb;
ALTER TABLE public.cv_generations ADD COLUMN IF NOT EXISTS generated_pdf bytea;
ALTER TABLE public.cv_generations ADD COLUMN IF NOT EXISTS pdf_status varchar(200);
COMMENT ON COLUMN public.cv_generations.ats_score IS 'Share (0-100) of the job description''s keywords the CV covers; NULL without a job description.';
COMMENT ON COLUMN public.cv_generations.pdf_status IS 'rendered, skipped: <why> (no Chromium), or failed: <error>.';
